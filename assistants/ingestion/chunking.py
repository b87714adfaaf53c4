"""Split a :class:`Document` into retrieval-sized chunks.

Design:

- The text of a section is cut once into *units*: sentences (western ``.!?`` followed by
  whitespace; the CJK full stop, exclamation and question marks U+3002/FF01/FF1F with or
  without whitespace) and lines, since menus and lists are line-oriented. Each unit keeps
  its trailing whitespace, so joining units gives back the original text exactly — no
  guessing whether to join with " " (English) or "" (Chinese/Japanese).
- ``count_tokens`` is called once per unit, and once more per finished chunk for its exact
  ``token_count``: linear in the text, never quadratic. Sums of unit counts are a close
  (slightly pessimistic) estimate of the count of their concatenation; a chunk whose exact
  count still exceeds ``max_tokens`` is split again, so the limit is a guarantee.
- Units longer than the target are cut at word boundaries, and a "word" that is itself too
  long (a URL, or CJK text with no punctuation) at character boundaries.
- Units are packed greedily up to ``target_tokens``. At a paragraph boundary the chunk is
  closed early (if it is at least half full) rather than starting a paragraph it cannot
  finish, so chunks tend to follow paragraphs.
- Consecutive chunks of the same section share up to ``overlap_tokens`` of whole units, so
  a fact that straddles a boundary is still retrievable from one chunk.
- Every chunk of a section starts with its heading ("Allergens\\n..."), because the heading
  is often the only place that says what a paragraph is about.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from .extract import Document
from .normalize import normalize_inline, normalize_text

TokenCounter = Callable[[str], int]

# Long headings (an HTML <h1> that is a whole sentence) would eat the chunk budget.
_MAX_HEADING_CHARS = 200

# A unit ends after: a paragraph break; western sentence punctuation followed by whitespace
# (closing quotes/brackets allowed); CJK sentence punctuation (no whitespace needed);
# a single line break.
_CJK_CHAR = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_BOUNDARY_RE = re.compile(
    r"\n[ \t]*\n\s*"
    r"|[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+"
    # U+3002 U+FF01 U+FF1F U+FF61; NFKC turns the full-width marks into ASCII, so ASCII !? right
    # after a CJK character also ends a sentence.
    r"|[\u3002\uff01\uff1f\uff61]+[\u300d\u300f\u201d\u2019\uff09)\]]*\s*"
    rf"|(?<=[{_CJK_CHAR}])[!?]+[\u300d\u300f\u201d\u2019\uff09)\]]*\s*"
    r"|\n"
)
_WORD_RE = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it has an id or an embedding. ``content_hash`` is the sha256 of
    ``text`` and lets the pipeline skip re-embedding unchanged chunks."""

    text: str
    token_count: int
    content_hash: str
    heading: str | None
    page: int | None


@dataclass
class _Unit:
    text: str  # original text including trailing whitespace
    tokens: int
    ends_paragraph: bool


def chunk_document(
    *,
    document: Document,
    count_tokens: TokenCounter,
    target_tokens: int = 380,
    max_tokens: int = 500,
    overlap_tokens: int = 60,
) -> list[ChunkDraft]:
    """Chunk every section (heading-prefixed, with overlap) and every record (one chunk per
    record, split only if it exceeds ``max_tokens``). Exact duplicate chunks (a footer
    repeated on every PDF page) are kept once. No chunk is empty or over ``max_tokens``."""
    _check_budget(target_tokens=target_tokens, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    chunks: list[ChunkDraft] = []
    for section in document.sections:
        heading = normalize_inline(section.heading or "")[:_MAX_HEADING_CHARS] or None
        chunks.extend(
            _chunk_text(
                text=section.text,
                prefix=f"{heading}\n" if heading else "",
                heading=heading,
                page=section.page,
                count_tokens=count_tokens,
                target_tokens=target_tokens,
                max_tokens=max_tokens,
                overlap_tokens=overlap_tokens,
            )
        )
    for record in document.records:
        record = record.strip()
        if not record:
            continue
        tokens = count_tokens(record)
        if tokens <= max_tokens:
            chunks.append(_draft(record, tokens, heading=None, page=None))
        else:
            chunks.extend(
                _chunk_text(
                    text=record,
                    prefix="",
                    heading=None,
                    page=None,
                    count_tokens=count_tokens,
                    target_tokens=target_tokens,
                    max_tokens=max_tokens,
                    overlap_tokens=overlap_tokens,
                )
            )
    return _dedupe(chunks)


def chunk_faq(
    *,
    pairs: list[tuple[str, str]],
    count_tokens: TokenCounter,
    max_tokens: int = 500,
) -> list[ChunkDraft]:
    """One chunk per question/answer pair, rendered ``"Q: ...\\nA: ..."``, so a retrieved FAQ
    always carries its question. An answer too long for one chunk is split and every part
    repeats the question. Pairs with neither question nor answer are skipped."""
    chunks: list[ChunkDraft] = []
    for question, answer in pairs:
        question = normalize_inline(question or "")
        answer = normalize_text(answer or "")
        if not question and not answer:
            continue
        prefix = f"Q: {question}\nA: " if question else "A: "
        text = prefix + answer if answer else f"Q: {question}"
        tokens = count_tokens(text)
        if tokens <= max_tokens:
            chunks.append(_draft(text, tokens, heading=question or None, page=None))
            continue
        target = max(1, max_tokens * 3 // 4)
        chunks.extend(
            _chunk_text(
                text=answer,
                prefix=prefix,
                heading=question or None,
                page=None,
                count_tokens=count_tokens,
                target_tokens=target,
                max_tokens=max_tokens,
                overlap_tokens=min(60, target // 4),
            )
        )
    return _dedupe(chunks)


# --------------------------------------------------------------------------- internals


def _check_budget(*, target_tokens: int, max_tokens: int, overlap_tokens: int) -> None:
    # Programming errors (bad settings), not bad input: plain ValueError.
    if not 0 < target_tokens <= max_tokens:
        raise ValueError(f"need 0 < target_tokens <= max_tokens, got {target_tokens=} {max_tokens=}")
    if not 0 <= overlap_tokens < target_tokens:
        raise ValueError(f"need 0 <= overlap_tokens < target_tokens, got {overlap_tokens=} {target_tokens=}")


def _chunk_text(
    *,
    text: str,
    prefix: str,
    heading: str | None,
    page: int | None,
    count_tokens: TokenCounter,
    target_tokens: int,
    max_tokens: int,
    overlap_tokens: int,
) -> list[ChunkDraft]:
    text = text.strip()
    if not text:
        return []
    prefix_tokens = count_tokens(prefix) if prefix else 0
    if prefix_tokens > max_tokens // 2:
        # A prefix that big leaves no room for content; keep the heading as metadata only.
        prefix, prefix_tokens = "", 0
    body_target = max(1, target_tokens - prefix_tokens)
    body_max = max(1, max_tokens - prefix_tokens)
    overlap = min(overlap_tokens, body_target // 2)
    # Oversized sentences are cut into pieces about the size of the overlap, so that overlap
    # still works inside a long run-on text; without overlap, target-sized pieces suffice.
    piece_tokens = max(1, min(body_target, overlap or body_target))

    units = _split_units(text, count_tokens=count_tokens, limit=body_target, piece_tokens=piece_tokens)
    # Tokens from each unit to the end of its paragraph, to know whether a paragraph that
    # starts here would still fit in the current chunk.
    rest_of_paragraph = [0] * len(units)
    running = 0
    for i in range(len(units) - 1, -1, -1):
        if units[i].ends_paragraph:
            running = 0
        running += units[i].tokens
        rest_of_paragraph[i] = running

    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    current_tokens = 0
    fresh = 0  # units in `current` that are not overlap carried from the previous chunk
    for i, unit in enumerate(units):
        if fresh:
            fits = current_tokens + unit.tokens <= body_target
            starts_paragraph = units[i - 1].ends_paragraph
            if (
                fits
                and starts_paragraph
                and current_tokens >= body_target // 2
                and current_tokens + rest_of_paragraph[i] > body_target
            ):
                fits = False
            if not fits:
                groups.append(current)
                current, current_tokens = _overlap_tail(current, overlap)
                fresh = 0
        if not fresh and current_tokens + unit.tokens > body_max:
            current, current_tokens = [], 0  # the overlap does not leave room for this unit
        current.append(unit)
        current_tokens += unit.tokens
        fresh += 1
    if fresh:
        groups.append(current)

    chunks: list[ChunkDraft] = []
    for group in groups:
        chunks.extend(
            _finish(group, prefix=prefix, heading=heading, page=page, count_tokens=count_tokens, max_tokens=max_tokens)
        )
    return chunks


def _overlap_tail(units: list[_Unit], overlap: int) -> tuple[list[_Unit], int]:
    tail: list[_Unit] = []
    total = 0
    for unit in reversed(units):
        if total + unit.tokens > overlap:
            break
        tail.append(unit)
        total += unit.tokens
    if len(tail) == len(units):
        return [], 0  # repeating the whole previous chunk is not overlap, it is a duplicate
    tail.reverse()
    return tail, total


def _finish(
    group: list[_Unit],
    *,
    prefix: str,
    heading: str | None,
    page: int | None,
    count_tokens: TokenCounter,
    max_tokens: int,
) -> list[ChunkDraft]:
    body = "".join(u.text for u in group).strip()
    if not body:
        return []
    text = prefix + body
    tokens = count_tokens(text)
    if tokens <= max_tokens:
        return [_draft(text, tokens, heading=heading, page=page)]
    # The sum of unit counts underestimated the whole (tokenisers are not additive). Halve.
    if len(group) > 1:
        middle = len(group) // 2
        return _finish(
            group[:middle], prefix=prefix, heading=heading, page=page, count_tokens=count_tokens, max_tokens=max_tokens
        ) + _finish(
            group[middle:], prefix=prefix, heading=heading, page=page, count_tokens=count_tokens, max_tokens=max_tokens
        )
    if len(body) > 1:
        middle = len(body) // 2
        halves = [_Unit(body[:middle], 0, False), _Unit(body[middle:], 0, False)]
        return _finish(
            halves[:1], prefix=prefix, heading=heading, page=page, count_tokens=count_tokens, max_tokens=max_tokens
        ) + _finish(
            halves[1:], prefix=prefix, heading=heading, page=page, count_tokens=count_tokens, max_tokens=max_tokens
        )
    # A single character over the limit: only possible with an absurd max_tokens/prefix.
    return [_draft(text, tokens, heading=heading, page=page)]


def _split_units(text: str, *, count_tokens: TokenCounter, limit: int, piece_tokens: int) -> list[_Unit]:
    units: list[_Unit] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        end = match.end()
        if end > start:
            _add_unit(
                units,
                text[start:end],
                "\n\n" in match.group().replace(" ", "").replace("\t", ""),
                count_tokens=count_tokens,
                limit=limit,
                piece_tokens=piece_tokens,
            )
            start = end
    if start < len(text):
        _add_unit(units, text[start:], True, count_tokens=count_tokens, limit=limit, piece_tokens=piece_tokens)
    return units


def _add_unit(
    units: list[_Unit],
    piece: str,
    ends_paragraph: bool,
    *,
    count_tokens: TokenCounter,
    limit: int,
    piece_tokens: int,
) -> None:
    stripped = piece.strip()
    if not stripped:
        if units and ends_paragraph:
            units[-1].ends_paragraph = True
        return
    tokens = count_tokens(stripped)
    if tokens <= limit:
        units.append(_Unit(piece, tokens, ends_paragraph))
        return
    # Too long for one chunk: words, grouped greedily into pieces of ~piece_tokens.
    pieces = _split_words(piece, count_tokens=count_tokens, piece_tokens=piece_tokens)
    for j, (text, count) in enumerate(pieces):
        units.append(_Unit(text, count, ends_paragraph and j == len(pieces) - 1))


def _split_words(text: str, *, count_tokens: TokenCounter, piece_tokens: int) -> list[tuple[str, int]]:
    pieces: list[tuple[str, int]] = []
    buffer: list[str] = []
    buffer_tokens = 0
    for match in _WORD_RE.finditer(text):
        word = match.group()
        stripped = word.strip()
        tokens = count_tokens(stripped) if stripped else 0
        if tokens > piece_tokens:
            if buffer:
                pieces.append(("".join(buffer), buffer_tokens))
                buffer, buffer_tokens = [], 0
            pieces.extend(_split_chars(word, count_tokens=count_tokens, piece_tokens=piece_tokens))
            continue
        if buffer and buffer_tokens + tokens > piece_tokens:
            pieces.append(("".join(buffer), buffer_tokens))
            buffer, buffer_tokens = [], 0
        buffer.append(word)
        buffer_tokens += tokens
    if buffer:
        pieces.append(("".join(buffer), buffer_tokens))
    return [(t, c) for t, c in pieces if t.strip()]


def _split_chars(word: str, *, count_tokens: TokenCounter, piece_tokens: int) -> list[tuple[str, int]]:
    """Cut a run with no spaces (CJK text, a long URL) into pieces of at most piece_tokens,
    guessing the size from the run's characters-per-token and shrinking when wrong."""
    pieces: list[tuple[str, int]] = []
    total = max(1, count_tokens(word.strip()))
    chars_per_token = max(1.0, len(word) / total)
    position = 0
    while position < len(word):
        size = max(1, int(piece_tokens * chars_per_token))
        while True:
            piece = word[position : position + size]
            tokens = count_tokens(piece.strip()) if piece.strip() else 0
            if tokens <= piece_tokens or size == 1:
                break
            size = max(1, size * piece_tokens // max(tokens, 1) - 1)
        pieces.append((piece, tokens))
        position += len(piece)
    return pieces


def _draft(text: str, tokens: int, *, heading: str | None, page: int | None) -> ChunkDraft:
    return ChunkDraft(
        text=text,
        token_count=tokens,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        heading=heading,
        page=page,
    )


def _dedupe(chunks: list[ChunkDraft]) -> list[ChunkDraft]:
    seen: set[str] = set()
    unique: list[ChunkDraft] = []
    for chunk in chunks:
        if chunk.content_hash not in seen:
            seen.add(chunk.content_hash)
            unique.append(chunk)
    return unique
