"""The chat backend used when no model server is configured: answers by quoting passages.

Nothing is generated. The answer is at most ``MAX_SENTENCES`` sentences copied verbatim from
``request.passages`` (retrieval's ranked passages), chosen by lexical overlap with
``request.question``:

- terms: lower-cased words of letters/digits minus a short English stop-word list, with a
  plural ``s`` stripped; runs of CJK characters become character bigrams (a lone character is
  its own term), skipping bigrams that contain a function character (的, 吗, 你, ...).
- a sentence's relevance is the idf-weighted share of the question's terms it contains (idf
  over the candidate sentences; a term no sentence has weighs like one in half of them); the
  passage's retrieval rank adds a small prior
  (``RANK_PRIOR / (1 + rank)``) so ties go to the better passage.
- a question sentence inside a passage (an FAQ's "Q: ...?") is never quoted: its relevance
  passes to the sentence after it (the answer).
- sentences are kept if they reach ``MIN_COVERAGE`` and at least half the best score, best
  first, skipping a sentence with the same terms as one already kept (the same text in two
  passages), until ``MAX_SENTENCES`` or the ``max_tokens`` budget (the best one is always kept
  whole: cutting it would put words in a passage's mouth), then put back in reading order
  (passage rank, position in the passage).

If no sentence reaches ``MIN_COVERAGE`` the answer is ``request.fallback_text`` (the caller's
honest "I don't know" with its handoff contact, in the business's language) or
``DEFAULT_FALLBACK``, and nothing is cited.

Token counts: ``prompt_tokens`` is 0 (no model read a prompt); ``completion_tokens`` is a
rough count of the answer, words plus CJK characters (``rough_token_count``), so usage
numbers stay comparable in size to a model's.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from inference.types import ChatDelta, ChatRequest, ChatResult, PassageRef

__all__ = ["DEFAULT_FALLBACK", "ExtractiveChatBackend", "rough_token_count", "terms"]

DEFAULT_FALLBACK = "I'm sorry, I don't have that information. Please contact us directly and we'll help you."
MAX_SENTENCES = 3
MIN_COVERAGE = 0.2
RANK_PRIOR = 0.05

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD = re.compile(rf"[^\W_{_CJK}]+")
_CJK_END = "\u3002\uff01\uff1f"  # the ideographic full stop and the full-width ! and ?
# A sentence ends at . ! ? (followed by space/end), at a CJK sentence end, or at a line break.
_SENTENCE = re.compile(rf"[^\n]*?(?:[.!?](?=\s|$)|[{_CJK_END}]|(?=\n)|$)", re.S)

_STOP_WORDS = frozenset("""
a an the and or but if of to in on at by for with from as is are was were be been being am do does did
doing have has had having i me my we our us you your he she it its they them their this that these those
there here what which who whom whose when where why how can could would should will shall may might must
not no yes so than too very just also any some all about into over under up down out off again then once
please tell know want like get got let lets s t im ive id youre dont doesnt
""".split())
_CJK_STOP_CHARS = frozenset("的了吗呢吧啊呀么你我他她它们是在和与也都就这那请问吗嗎們這個个")


def terms(text: str) -> list[str]:
    """The matching terms of ``text`` (see the module docstring)."""
    out: list[str] = []
    lowered = text.lower()
    for word in _WORD.findall(lowered):
        word = word.replace("'", "")
        if word in _STOP_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            if run not in _CJK_STOP_CHARS:
                out.append(run)
            continue
        for i in range(len(run) - 1):
            bigram = run[i : i + 2]
            if not (set(bigram) & _CJK_STOP_CHARS):
                out.append(bigram)
    return out


def rough_token_count(text: str) -> int:
    """Whitespace-separated words plus CJK characters (a CJK character is about one token)."""
    cjk = len(_CJK_CHAR.findall(text))
    words = len(_CJK_RUN.sub(" ", text).split())
    return words + cjk


@dataclass
class _Sentence:
    passage_index: int
    position: int
    text: str
    terms: frozenset[str]
    is_question: bool
    coverage: float = 0.0


def _split_sentences(text: str) -> list[str]:
    sentences = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0).strip()
        if sentence and any(ch.isalnum() for ch in sentence):
            sentences.append(sentence)
    return sentences


class ExtractiveChatBackend:
    """Quotes the passages that best match the question. Stateless; safe to share."""

    name = "extractive"
    model = "extractive"

    def __init__(self, *, fallback_text: str = DEFAULT_FALLBACK) -> None:
        self.fallback_text = fallback_text

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta | ChatResult]:
        sentences, cited = self._answer(request)
        if not sentences:
            text = request.fallback_text or self.fallback_text
            yield ChatDelta(text)
            yield self._result(text, [])
            return
        parts = []
        for i, sentence in enumerate(sentences):
            piece = sentence if i == 0 else _joiner(sentences[i - 1]) + sentence
            parts.append(piece)
            yield ChatDelta(piece)
        yield self._result("".join(parts), cited)

    async def complete(self, request: ChatRequest) -> ChatResult:
        result = None
        async for item in self.stream(request):
            if isinstance(item, ChatResult):
                result = item
        assert result is not None
        return result

    def _result(self, text: str, cited: list[PassageRef]) -> ChatResult:
        return ChatResult(text=text, finish_reason="stop", prompt_tokens=0,
                          completion_tokens=rough_token_count(text), backend=self.name, model=self.model,
                          cited=cited)

    def _answer(self, request: ChatRequest) -> tuple[list[str], list[PassageRef]]:
        question_terms = set(terms(request.question))
        if not question_terms or not request.passages:
            return [], []
        sentences: list[_Sentence] = []
        for p_index, passage in enumerate(request.passages):
            for position, text in enumerate(_split_sentences(passage.text)):
                sentences.append(_Sentence(p_index, position, text, frozenset(terms(text)),
                                           text.rstrip().endswith(("?", "\uff1f"))))
        if not sentences:
            return [], []
        n = len(sentences)
        df = {t: sum(1 for s in sentences if t in s.terms) for t in question_terms}
        # A question word no passage contains (``df`` 0) weighs like a common word, not like the
        # rarest one: customers phrase questions in words the answer never uses ("Which dishes
        # contain peanuts?" vs "allergens: peanuts"), and those must not drown the word that matches.
        weight = {t: math.log(1 + (n + 1) / ((df[t] or n / 2) + 0.5)) for t in question_terms}
        total = sum(weight.values())
        for s in sentences:
            s.coverage = sum(weight[t] for t in question_terms & s.terms) / total
        # An FAQ question that matches lends its relevance to the answer that follows it.
        for before, after in itertools.pairwise(sentences):
            if before.is_question and not after.is_question and before.passage_index == after.passage_index:
                after.coverage = max(after.coverage, before.coverage)
        # A heading ("Opening hours", the first line of a section's chunk) is not an answer, but
        # it says what its section answers: it lends its relevance to the section's sentences,
        # up to the next heading-like line. A first line followed by no such sentence (a list of
        # short unpunctuated lines) is content, and stays a candidate.
        headings = set()
        for s in sentences:
            if s.position == 0 and _heading_like(s.text):
                section = list(itertools.takewhile(
                    lambda t: not _heading_like(t.text),
                    (t for t in sentences if t.passage_index == s.passage_index and t.position > 0)))
                if section:
                    headings.add(id(s))
                    for t in section:
                        t.coverage = max(t.coverage, s.coverage)
        candidates = [s for s in sentences
                      if not s.is_question and id(s) not in headings and s.coverage >= MIN_COVERAGE]
        if not candidates:
            return [], []

        def score(s: _Sentence) -> float:
            return s.coverage + RANK_PRIOR / (1 + s.passage_index)

        ranked = sorted(candidates, key=lambda s: (-score(s), s.passage_index, s.position))
        best = score(ranked[0])
        budget = max(1, request.max_tokens)
        chosen: list[_Sentence] = []
        used = 0
        for s in ranked:
            if len(chosen) == MAX_SENTENCES or score(s) < best / 2:
                break
            cost = rough_token_count(s.text)
            if chosen and used + cost > budget:
                continue
            if any(s.terms == c.terms for c in chosen):  # the same sentence again (another passage, a copy)
                continue
            chosen.append(s)
            used += cost
        chosen.sort(key=lambda s: (s.passage_index, s.position))
        cited_indexes = sorted({s.passage_index for s in chosen})
        return [s.text for s in chosen], [request.passages[i] for i in cited_indexes]


def _heading_like(text: str) -> bool:
    """A short line with no sentence ending: a title, a label ("Opening hours", "Bookings:")."""
    return len(text.split()) <= 8 and not text.rstrip().endswith(tuple(".!?…\u3002\uff01\uff1f")) and (
        len(text) <= 60)


def _joiner(previous: str) -> str:
    # CJK text runs on without spaces; everything else gets one.
    return "" if previous and (_CJK_CHAR.match(previous[-1]) or previous[-1] in _CJK_END) else " "
