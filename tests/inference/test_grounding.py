"""The grounding gate: a generated sentence reaches the customer only when its [n] markers
name real passages and its numbers are in the passages it marks."""

from __future__ import annotations

from inference.grounding import SentenceGate, numbers_in
from inference.types import PassageRef

MENU = PassageRef("c1", "s1", "Menu", "Dan dan noodles cost 11.50. We close at 22:30 on Saturdays.")
CONTACT = PassageRef("c2", "s2", "Contact", "Call us on +31 20 555 0188.")


def _gate(answer: str, passages=(MENU, CONTACT), step: int = 3):
    gate = SentenceGate(list(passages))
    streamed = [gate.feed(answer[i:i + step]) for i in range(0, len(answer), step)]
    result = gate.finish()
    return "".join(streamed) + (result.rest if result.grounded else ""), result


def test_marked_sentences_with_their_numbers_pass_and_markers_are_removed() -> None:
    sent, result = _gate("Hi! The noodles cost 11.50 [1]. Call us on +31 20 555 0188 [2]. See you soon!")
    assert sent == result.text == "Hi! The noodles cost 11.50. Call us on +31 20 555 0188. See you soon!"
    assert result.grounded and result.cited == [MENU, CONTACT] and result.failed is None


def test_a_wrong_number_ends_the_answer_before_it() -> None:
    sent, result = _gate("They cost 12.50 [1].")
    assert sent == "" and not result.grounded and "12.5" in result.failed
    sent, result = _gate("The noodles cost 11.50 [1]. We close at 23:00 [1]. Bye.")
    assert sent == result.text == "The noodles cost 11.50." and result.grounded


def test_a_number_must_be_in_the_passage_the_sentence_marks() -> None:
    _, result = _gate("Call us on 020 555 0188 [1].")  # the phone number is in passage 2, not 1
    assert not result.grounded


def test_a_marker_to_no_passage_or_no_marker_at_all_is_not_grounded() -> None:
    sent, result = _gate("The noodles cost 11.50 [3].")
    assert sent == "" and not result.grounded and "[3]" in result.failed
    sent, result = _gate("We are a lovely restaurant. Come and visit.")
    assert sent == "" and not result.grounded  # nothing is streamed before a passage is marked


def test_numbers_compare_by_value_and_times_in_their_spoken_forms() -> None:
    assert numbers_in("€11.50 or 11,5") == {"11.5"}
    _, result = _gate("We close at 10:30 pm on Saturdays [1].")
    assert result.grounded
    _, result = _gate("The noodles are 11.5 EUR. [1]")
    assert result.grounded and result.text == "The noodles are 11.5 EUR."


def test_chinese_sentences() -> None:
    sent, result = _gate("担担面11.50元[1]。周六晚上22:30关门[1]。", step=2)
    assert result.grounded and sent == "担担面11.50元。周六晚上22:30关门。"
