from __future__ import annotations

import hashlib
import itertools
import time

import pytest

from assistants.ingestion.chunking import ChunkDraft, chunk_document, chunk_faq
from assistants.ingestion.extract import Document, Section

from .helpers import count_tokens


def prose(paragraphs: int, sentences: int = 6, tag: str = "") -> str:
    return "\n\n".join(
        " ".join(f"Sentence {tag}{p}-{s} says dish number {p * 10 + s} costs {s}.50 euros." for s in range(sentences))
        for p in range(paragraphs)
    )


def chunks_of(text: str, heading: str | None = None, **kwargs: int) -> list[ChunkDraft]:
    document = Document(title=None, sections=[Section(heading=heading, text=text, page=None)])
    return chunk_document(document=document, count_tokens=count_tokens, **kwargs)


def test_every_chunk_respects_max_tokens_and_is_not_empty() -> None:
    chunks = chunks_of(prose(60), heading="Menu", target_tokens=120, max_tokens=160, overlap_tokens=20)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text.strip()
        assert chunk.token_count == count_tokens(chunk.text)
        assert chunk.token_count <= 160
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()


def test_chunks_start_with_the_section_heading() -> None:
    document = Document(
        title=None,
        sections=[
            Section(heading="Allergens", text=prose(10, tag="a"), page=None),
            Section(heading=None, text="No heading here.", page=4),
        ],
    )
    chunks = chunk_document(document=document, count_tokens=count_tokens, target_tokens=80, max_tokens=100,
                            overlap_tokens=10)  # fmt: skip
    allergen_chunks = [c for c in chunks if c.heading == "Allergens"]
    assert len(allergen_chunks) > 1
    assert all(c.text.startswith("Allergens\n") for c in allergen_chunks)
    assert chunks[-1].text == "No heading here." and chunks[-1].page == 4


def test_consecutive_chunks_of_a_section_overlap() -> None:
    chunks = chunks_of(prose(1, sentences=40), target_tokens=100, max_tokens=130, overlap_tokens=30)
    assert len(chunks) >= 3
    for previous, current in itertools.pairwise(chunks):
        # The next chunk starts with whole sentences from the end of the previous one.
        first_sentence = current.text.split(". ")[0] + "."
        start = previous.text.find(first_sentence)
        assert start > 0, (previous.text, current.text)
        shared = previous.text[start:]
        assert current.text.startswith(shared)
        assert 0 < count_tokens(shared) <= 30


def test_no_overlap_when_disabled_and_text_is_preserved_in_order() -> None:
    text = prose(8)
    chunks = chunks_of(text, target_tokens=60, max_tokens=80, overlap_tokens=0)
    # Without overlap the chunks are exactly the text, cut at whitespace.
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_chunks_prefer_paragraph_boundaries() -> None:
    # Paragraphs of ~45 tokens with a target of 100: every chunk should end where a paragraph ends.
    text = prose(12, sentences=3)
    chunks = chunks_of(text, target_tokens=100, max_tokens=130, overlap_tokens=0)
    paragraphs = text.split("\n\n")
    for chunk in chunks:
        assert any(chunk.text.endswith(p) for p in paragraphs), chunk.text


def test_a_sentence_longer_than_max_is_split_at_word_boundaries() -> None:
    words = [f"word{i}" for i in range(1000)]
    chunks = chunks_of(" ".join(words), target_tokens=100, max_tokens=120, overlap_tokens=0)
    assert len(chunks) >= 9
    assert all(c.token_count <= 120 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == words


def test_text_without_any_spaces_is_split_by_characters() -> None:
    # CJK with no punctuation: one "word", one token per character.
    text = "".join(chr(0x4E00 + i) for i in range(1000))
    chunks = chunks_of(text, target_tokens=100, max_tokens=120, overlap_tokens=0)
    assert all(c.token_count <= 120 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_chinese_and_japanese_sentence_punctuation_split_sentences() -> None:
    # Full-width comma, question and exclamation marks as typed on CJK keyboards.
    sentences = [f"第{i}道菜是素食菜品\uff0c价格是{i}元。" for i in range(40)]
    sentences += ["営業時間は何時ですか\uff1f", "ありがとう\uff01"]
    text = "".join(sentences)
    chunks = chunks_of(text, target_tokens=60, max_tokens=80, overlap_tokens=0)
    assert len(chunks) > 3
    # Every chunk ends on a sentence end, and nothing is lost or re-spaced.
    assert all(c.text.endswith(("。", "\uff1f", "\uff01")) for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_csv_records_become_one_chunk_each() -> None:
    records = [f"name: Dish {i}; price: {i}.50; allergens: soy" for i in range(5)]
    chunks = chunk_document(document=Document(title=None, records=records), count_tokens=count_tokens)
    assert [c.text for c in chunks] == records


def test_oversized_record_is_split() -> None:
    record = "name: Banquet; description: " + " ".join(f"course{i}" for i in range(600))
    chunks = chunk_document(
        document=Document(title=None, records=[record]), count_tokens=count_tokens, target_tokens=100, max_tokens=120,
        overlap_tokens=10,
    )  # fmt: skip
    assert len(chunks) > 1
    assert all(c.token_count <= 120 for c in chunks)


def test_identical_chunks_are_kept_once() -> None:
    document = Document(
        title=None,
        sections=[Section(heading=None, text="© Golden Dragon 2024", page=p) for p in range(1, 4)],
    )
    assert len(chunk_document(document=document, count_tokens=count_tokens)) == 1


def test_empty_sections_make_no_chunks() -> None:
    document = Document(title=None, sections=[Section(heading="Empty", text="  \n\n ", page=None)], records=["", " "])
    assert chunk_document(document=document, count_tokens=count_tokens) == []


def test_bad_budget_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        chunks_of("text", target_tokens=500, max_tokens=100)
    with pytest.raises(ValueError):
        chunks_of("text", target_tokens=100, max_tokens=200, overlap_tokens=100)


def test_faq_pairs_are_one_chunk_each() -> None:
    chunks = chunk_faq(
        pairs=[("Do you deliver?", "Yes, within 5 km."), ("  ", "  "), ("Parking?", "Free after 6pm.")],
        count_tokens=count_tokens,
    )
    assert [c.text for c in chunks] == ["Q: Do you deliver?\nA: Yes, within 5 km.", "Q: Parking?\nA: Free after 6pm."]
    assert chunks[0].heading == "Do you deliver?"


def test_long_faq_answer_is_split_and_every_part_repeats_the_question() -> None:
    answer = " ".join(f"Step {i}: do the thing number {i}." for i in range(100))
    chunks = chunk_faq(pairs=[("How do I book a party?", answer)], count_tokens=count_tokens, max_tokens=120)
    assert len(chunks) > 1
    assert all(c.text.startswith("Q: How do I book a party?\nA: ") for c in chunks)
    assert all(c.token_count <= 120 for c in chunks)


def test_chunking_300k_characters_is_fast_and_counts_linearly() -> None:
    text = prose(1000, sentences=6)  # ~450k characters, like a long PDF
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return count_tokens(text)

    document = Document(
        title=None,
        sections=[Section(heading=f"Page {p}", text=text[p * 3000 : (p + 1) * 3000], page=p) for p in range(100)],
    )
    started = time.perf_counter()
    chunks = chunk_document(document=document, count_tokens=counting)
    elapsed = time.perf_counter() - started
    assert chunks
    assert elapsed < 1.0, f"chunking 300k chars took {elapsed:.2f}s"
    # One count per sentence, one per heading, one per chunk: far from quadratic.
    sentences = sum(len(s.text.split(". ")) for s in document.sections)
    assert calls < 2 * sentences + 2 * len(chunks) + 2 * len(document.sections)
