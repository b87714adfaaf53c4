"""The extractive backend: answers by quoting the passages, never by inventing text."""

from __future__ import annotations

import asyncio

from inference.extractive import DEFAULT_FALLBACK, ExtractiveChatBackend, rough_token_count, terms
from inference.types import ChatBackend, ChatDelta, ChatRequest, ChatResult, PassageRef

MENU = PassageRef(
    chunk_id="c-menu", source_id="s-menu", source_title="Menu",
    text=("Margherita pizza with tomato and mozzarella costs 10 EUR. "
          "The Garden pizza is vegan and costs 12 EUR. "
          "All pizzas are baked in a wood-fired oven."),
)
HOURS = PassageRef(
    chunk_id="c-hours", source_id="s-hours", source_title="Opening hours",
    text="We are open Tuesday to Sunday from noon to 10 pm.\nOn Mondays the restaurant is closed.",
)
FAQ = PassageRef(
    chunk_id="c-faq", source_id="s-faq", source_title="FAQ",
    text="Q: Can I bring my dog?\nA: Dogs are welcome on the terrace.",
)
PARKING = PassageRef(chunk_id="c-park", source_id="s-park", source_title="Directions",
                     text="Free parking is available behind the building.")

MENU_ZH = PassageRef(
    chunk_id="z-menu", source_id="z-s-menu", source_title="菜单",
    text="玛格丽特披萨售价十欧元。花园披萨是素食的，售价十二欧元。所有披萨都用柴火炉烤制。",
)
HOURS_ZH = PassageRef(chunk_id="z-hours", source_id="z-s-hours", source_title="营业时间",
                      text="我们周二至周日中午到晚上十点营业。周一休息。")


def _ask(question: str, passages: list[PassageRef], **overrides) -> tuple[list[str], ChatResult]:
    request = ChatRequest(messages=[], max_tokens=overrides.pop("max_tokens", 200), temperature=0.0,
                          passages=passages, question=question, **overrides)

    async def run() -> tuple[list[str], ChatResult]:
        deltas, result = [], None
        async for item in ExtractiveChatBackend().stream(request):
            assert result is None
            if isinstance(item, ChatDelta):
                deltas.append(item.text)
            else:
                result = item
        return deltas, result

    return asyncio.run(run())


def test_picks_the_sentence_that_answers_in_english() -> None:
    deltas, result = _ask("Do you have a vegan pizza?", [HOURS, MENU, PARKING])
    assert result.text == "The Garden pizza is vegan and costs 12 EUR."
    assert result.cited == [MENU]
    assert "".join(deltas) == result.text
    assert (result.backend, result.model, result.finish_reason, result.prompt_tokens) == (
        "extractive", "extractive", "stop", 0)
    assert result.completion_tokens == 9


def test_quotes_several_sentences_verbatim_in_reading_order_and_cites_each_source() -> None:
    deltas, result = _ask("When are you open, and are you closed on Mondays?", [MENU, HOURS])
    assert result.text == ("We are open Tuesday to Sunday from noon to 10 pm. "
                           "On Mondays the restaurant is closed.")
    assert result.cited == [HOURS]
    assert len(deltas) == 2  # one delta per sentence
    for sentence in ("We are open Tuesday to Sunday from noon to 10 pm.", "On Mondays the restaurant is closed."):
        assert sentence in HOURS.text


def test_never_more_than_three_sentences_and_respects_max_tokens() -> None:
    question = "pizza pizza"
    _, result = _ask(question, [MENU])
    assert result.text.count(".") <= 3
    _, short = _ask(question, [MENU], max_tokens=12)
    # The best sentence is always kept whole; further ones only while they fit.
    assert rough_token_count(short.text) <= 12 or short.text.count(".") == 1
    assert short.text in MENU.text


def test_an_faq_question_is_answered_by_the_line_after_it() -> None:
    _, result = _ask("Can I bring my dog?", [MENU, FAQ])
    assert result.text == "Dogs are welcome on the terrace."  # the answer text, without its "A:"
    assert result.cited == [FAQ]


def test_passage_rank_breaks_ties_and_a_repeated_sentence_is_quoted_once() -> None:
    first = PassageRef("a", "sa", "A", "Parking is free for guests.")
    second = PassageRef("b", "sb", "B", "Parking is free for guests!")
    _, result = _ask("Is parking free?", [second, first])
    assert result.cited == [second]


def test_picks_the_sentence_that_answers_in_chinese() -> None:
    deltas, result = _ask("你们有素食披萨吗？", [HOURS_ZH, MENU_ZH])
    assert result.text == "花园披萨是素食的，售价十二欧元。"
    assert result.cited == [MENU_ZH]
    assert "".join(deltas) == result.text
    # CJK characters count one each, and so does each punctuation mark standing alone.
    assert result.completion_tokens == len("花园披萨是素食的售价十二欧元") + 2


def test_chinese_sentences_are_joined_without_spaces() -> None:
    _, result = _ask("你们什么时候营业？周一营业吗？", [HOURS_ZH])
    assert result.text == "我们周二至周日中午到晚上十点营业。周一休息。"
    assert result.cited == [HOURS_ZH]


def test_no_overlap_gives_the_callers_fallback_and_cites_nothing() -> None:
    deltas, result = _ask("What is the wifi password?", [MENU, HOURS],
                          fallback_text="I don't know that yet. Please call +44 20 7946 0000.")
    assert result.text == "I don't know that yet. Please call +44 20 7946 0000."
    assert deltas == [result.text]
    assert result.cited == []


def test_no_passages_or_stop_words_only_gives_the_default_fallback() -> None:
    _, result = _ask("Is there a vegan pizza?", [])
    assert result.text == DEFAULT_FALLBACK and result.cited == []
    _, result = _ask("What is it?", [MENU])
    assert result.text == DEFAULT_FALLBACK and result.cited == []


def test_complete_matches_stream() -> None:
    backend = ExtractiveChatBackend()
    request = ChatRequest(messages=[], max_tokens=100, temperature=0.0, passages=[HOURS, MENU],
                          question="vegan pizza")
    result = asyncio.run(backend.complete(request))
    assert result.text == "The Garden pizza is vegan and costs 12 EUR."
    assert isinstance(backend, ChatBackend)


def test_terms_handle_english_and_cjk() -> None:
    assert terms("Do you have vegan pizzas?") == ["vegan", "pizza"]
    assert "素食" in terms("你们有素食披萨吗？") and "披萨" in terms("你们有素食披萨吗？")
    assert not any("吗" in t for t in terms("你们有素食披萨吗？"))


def test_a_heading_points_at_its_section_instead_of_being_the_answer() -> None:
    """A chunk that starts with its section's title: the title matches the question best, but
    the answer is the section under it (markdown and text sources are chunked that way)."""
    about = PassageRef(chunk_id="c-about", source_id="s-about", source_title="About us",
                       text="Opening hours\nWe are open Tuesday to Sunday. Lunch is served from 11:30 to 14:30.\n"
                            "Bookings\nCall us to book a table.")
    _deltas, result = _ask("What are your opening hours?", [about])
    assert result.text == "We are open Tuesday to Sunday. Lunch is served from 11:30 to 14:30."
    assert result.cited == [about]
    # The next heading ends the section: its sentences do not borrow this title's relevance.
    _deltas, result = _ask("How do I book a table?", [about])
    assert result.text == "Call us to book a table."


def test_a_short_answer_that_is_the_whole_passage_is_still_an_answer() -> None:
    only = PassageRef(chunk_id="c-only", source_id="s-only", source_title="Parking", text="Free parking behind us")
    _deltas, result = _ask("Is there parking?", [only])
    assert result.text == "Free parking behind us"


def test_a_list_of_short_lines_is_content_not_headings() -> None:
    lines = PassageRef(chunk_id="c-lines", source_id="s-lines", source_title="Getting here",
                       text="Free parking behind us\nTram 26 stops nearby\nBikes welcome")
    _deltas, result = _ask("Is there parking?", [lines])
    assert result.text == "Free parking behind us"


DECOR = PassageRef(chunk_id="c-decor", source_id="s-decor", source_title="About us",
                   text="Fresh flowers from the market are on every table. We deliver within 5 km on Fridays.")
RECORDS = PassageRef(chunk_id="c-rows", source_id="s-rows", source_title="prices.csv",
                     text="name: Mapo tofu; price: 12.50; allergens: soy\nname: Rice; price: 3.00; allergens: ")


def test_a_sentence_with_one_of_the_key_terms_does_not_answer() -> None:
    """"Do you deliver flowers?" is not answered by the flowers on the tables, nor by the
    delivery of meals: no sentence has both key terms."""
    _, result = _ask("Do you deliver flowers?", [DECOR])
    assert result.abstained and result.cited == []
    # A term nothing in the knowledge mentions weighs like the rarest one.
    _, result = _ask("Do you have a kids menu?", [MENU, PassageRef("m", "sm", "Menu", "Our menu changes weekly.")])
    assert result.abstained
    _, result = _ask("Do you deliver?", [DECOR])
    assert result.text == "We deliver within 5 km on Fridays." and not result.abstained


def test_record_dumps_and_cut_sentences_are_never_quoted() -> None:
    _, result = _ask("What is the price of mapo tofu?", [RECORDS])
    assert result.abstained
    cut = PassageRef("cut", "s", "Events", "pare and for birthdays or other events we open the private room. For "
                                           "larger birthday parties or other private events please call the manager "
                                           "or")
    _, result = _ask("Can I book the private room for a birthday party?", [cut])
    assert result.abstained, result.text


def test_a_compound_question_is_answered_part_by_part() -> None:
    _, result = _ask("Is there parking, and can I bring my dog?", [PARKING, FAQ, MENU])
    assert result.text == "Free parking is available behind the building. Dogs are welcome on the terrace."
    assert result.cited == [PARKING, FAQ]


def test_a_price_question_is_answered_only_by_a_sentence_with_an_amount() -> None:
    """"How much is a filling?" shares words with "fill in the health form" under a heading about
    prices; a sentence without an amount does not answer it."""
    clinic = PassageRef(chunk_id="c-clinic", source_id="s-clinic", source_title="Treatments and prices",
                        text="# Treatments and prices\nNew patients are welcome. Please bring your ID card and "
                             "arrive ten minutes early to fill in the health form.")
    deltas, result = _ask("How much does a filling cost?", [clinic], fallback_text="I'll ask the team.")
    assert "".join(deltas) == "I'll ask the team." and result.abstained
    deltas, _result = _ask("How much is the Garden pizza?", [MENU])
    assert "12 EUR" in "".join(deltas)
    priced_zh = PassageRef(chunk_id="z-p", source_id="z-s-p", source_title="价格", text="花园披萨的价格是十二欧元。")
    deltas, _result = _ask("花园披萨多少钱？", [priced_zh])
    assert "十二欧元" in "".join(deltas)


def test_a_question_about_something_the_knowledge_never_mentions_is_not_answered() -> None:
    """"Free wifi for guests?" shares "free" and "guests" with the parking answer; nothing in the
    knowledge speaks of wifi, so it is not an answer (a passage very close in meaning still is)."""
    parking = PassageRef(chunk_id="c-p", source_id="s-p", source_title="FAQ", similarity=0.45,
                         text="Q: Do you have parking?\nA: Yes, there is free parking for guests behind the "
                              "restaurant.")
    deltas, result = _ask("Do you have free wifi for guests?", [parking], fallback_text="I'll ask the team.")
    assert "".join(deltas) == "I'll ask the team." and result.abstained
    deltas, _result = _ask("Is there free parking for guests?", [parking])
    assert "free parking" in "".join(deltas)
