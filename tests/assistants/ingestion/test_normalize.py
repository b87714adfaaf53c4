from __future__ import annotations

from assistants.ingestion.errors import IngestionError
from assistants.ingestion.normalize import normalize_inline, normalize_text


def test_hyphenation_across_line_breaks_is_rejoined() -> None:
    assert normalize_text("Please make a reser-\nvation for six.") == "Please make a reservation for six."
    assert normalize_text("reser- \n  vation") == "reservation"


def test_hyphen_before_a_capital_or_digit_is_kept() -> None:
    assert normalize_text("Free Wi-\nFi") == "Free Wi-\nFi"
    assert normalize_text("Mon-\n12:00") == "Mon-\n12:00"


def test_whitespace_runs_collapse_but_paragraph_breaks_stay() -> None:
    text = "Line  one\t\there \r\nline two\r\n\r\n\r\n\r\nNew   paragraph   "
    assert normalize_text(text) == "Line one here\nline two\n\nNew paragraph"


def test_control_and_invisible_characters_are_removed() -> None:
    assert normalize_text("Tofu\x00 \x07dish\u200b\ufeff with soft\u00adhyphen") == "Tofu dish with softhyphen"


def test_zero_width_joiner_survives_for_emoji_and_scripts() -> None:
    assert "\u200d" in normalize_text("family \U0001f468\u200d\U0001f469\u200d\U0001f467")


def test_nfkc_folds_fullwidth_and_ligatures() -> None:
    assert normalize_text("\uff21\uff22\uff23\uff11\uff12\uff13 \ufb01ne") == "ABC123 fine"


def test_form_feed_is_a_paragraph_break_and_normalising_twice_changes_nothing() -> None:
    once = normalize_text("page one\fpage two\u2028next line")
    assert once == "page one\n\npage two\nnext line"
    assert normalize_text(once) == once


def test_normalize_inline_puts_text_on_one_line() -> None:
    assert normalize_inline("  Opening\n\nhours \t ") == "Opening hours"


def test_ingestion_error_carries_code_message_and_transience() -> None:
    error = IngestionError("timeout", "the site did not answer", transient=True)
    assert (error.code, error.message, error.transient, str(error)) == (
        "timeout", "the site did not answer", True, "the site did not answer",
    )  # fmt: skip
    assert IngestionError("bad", "bad input").transient is False
