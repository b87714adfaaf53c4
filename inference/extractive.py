"""The chat backend used when no model server is configured: answers by quoting passages.

Nothing is generated. The answer is at most ``MAX_SENTENCES`` sentences copied verbatim from
``request.passages`` (retrieval's ranked passages, already above the relevance floor), and
only sentences that answer the question's key terms:

- terms: lower-cased words of letters/digits minus a stop-word list, lightly stemmed
  ("deliveries", "delivering" → "deliver"); Chinese text is segmented into words by jieba,
  minus function words (的, 吗, 你们, ...).
- a sentence answers with its *context*: an FAQ answer with its question, a section's
  sentence with its heading. Its coverage is the idf-weighted share of the question's terms
  found in the sentence and its context (idf over the candidate sentences). A question term
  no passage contains weighs like the rarest term: "do you have a kids menu?" is not
  answered by a sentence about the menu — unless the sentence's passage is very close to the
  question in meaning (``LENIENT_SIMILARITY``), where a word that passage lacks weighs like a
  common one.
- a sentence is a candidate when its coverage reaches ``MIN_COVERAGE``; "do you deliver
  flowers?" is not answered by a sentence about the flowers on the tables (half the terms),
  and a question about a service verb (``REQUIRED``: sell, deliver, repair, rent, ...) only by
  a sentence that has that verb.
- never quoted: questions (an FAQ's "Q: ...?"), headings, record dumps ("name: …; price: …"),
  fragments (a chunk's first words when they continue a sentence, a last part without its
  end). FAQ prefixes ("A:", "答:") are removed: an FAQ hit answers with its answer text.
- kept: the best candidate, then others with at least ``KEEP_SHARE`` of its score, skipping
  repeats, until ``MAX_SENTENCES`` or the ``max_tokens`` budget (the best one is always kept
  whole); put back in reading order.

If no sentence qualifies the answer is ``request.fallback_text`` (the caller's honest "I don't
know" with its handoff contact, in the business's language) or ``DEFAULT_FALLBACK``, nothing is
cited and ``ChatResult.abstained`` is set.

Token counts: ``prompt_tokens`` is 0 (no model read a prompt); ``completion_tokens`` is a
rough count of the answer, words plus CJK characters (``rough_token_count``), so usage
numbers stay comparable in size to a model's.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache

from inference.types import ChatDelta, ChatRequest, ChatResult, PassageRef

__all__ = ["DEFAULT_FALLBACK", "ExtractiveChatBackend", "rough_token_count", "terms"]

DEFAULT_FALLBACK = "I'm sorry, I don't have that information. Please contact us directly and we'll help you."
MAX_SENTENCES = 3
MIN_COVERAGE = 0.6
KEEP_SHARE = 0.75
LENIENT_SIMILARITY = 0.6
# Service verbs: a question about one ("do you deliver / repair / rent ...?") is answered only
# by a sentence that has it (or its FAQ question or heading does), whatever else matches.
REQUIRED = frozenset({"sell", "deliver", "repair", "rent", "buy", "accept", "treat", "book", "ship", "install",
                      "cater", "host", "clean", "fix", "hire", "lease", "trade", "送", "卖", "修", "租"})
RANK_PRIOR = 0.02
# A question about an amount, and a sentence that states one: a number (digits, Chinese
# numerals), a currency, or "free".
_ASKS_AMOUNT = re.compile(r"\bhow\s+much\b|多少钱|多少錢|几块|幾塊", re.IGNORECASE)
_AMOUNT = re.compile(r"\d|[零一二三四五六七八九十百千万两兩]|[€$£¥元]|\b(?:free|eur|euros?|dollars?|pounds?|usd|gbp|"
                     r"cents?)\b|免费|免費", re.IGNORECASE)

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
make makes anything something thing things much many happen happens happened number
""".split())
# Chinese function words and question words (jieba's segments), and single function characters.
_CJK_STOP_WORDS = frozenset("""
的 了 吗 嗎 呢 吧 啊 呀 么 麼 你 您 我 他 她 它 你们 你們 我们 我們 他们 是 在 和 与 與 也 都 就 这 這 那 请问 請問
请 請 问 問 有 有没有 有沒有 没有 沒有 能 能不能 可以 可不可以 个 個 些 哪 哪些 什么 什麼 怎么 怎麼 多少 几 幾
一下 一个 一個 会 會 要 想 给 給 吃 提供 时候 時候 什么时候 什麼時候 几点 幾點 为什么 為什麼 呀 嘛 哦
""".split())


# Words that mean the same to a customer: mapped to one term on both sides.
_SYNONYMS = {
    "delivery": "deliver", "opening": "open", "closing": "close", "closed": "close", "booking": "book",
    "reservation": "book", "reserve": "book", "cost": "price", "fee": "price", "charge": "price",
    # "Do you sell X?" is answered by a sentence that offers X, not by one that mentions it.
    "sell": "sell", "sold": "sell", "offer": "sell", "provide": "sell", "stock": "sell", "carry": "sell",
    "available": "sell", "take": "accept", "takes": "accept",
    # Where and how to reach the business.
    "where": "address", "located": "address", "location": "address", "find": "address", "地址": "address",
    "哪里": "address", "哪儿": "address", "位置": "address", "在哪": "address", "在哪里": "address",
    "phone": "phone", "telephone": "phone", "call": "phone", "ring": "phone", "电话": "phone", "電話": "phone",
    "費用": "价格", "费用": "价格", "收费": "价格", "价钱": "价格", "價格": "价格", "多少钱": "价格",
    "营业": "开门", "營業": "开门", "开": "开门",
}


@lru_cache(maxsize=1)
def _jieba():
    import jieba  # loads its dictionary (about a second) on the first Chinese text

    jieba.setLogLevel(logging.WARNING)
    return jieba


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2] if not word.endswith("ied") else word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _SYNONYMS.get(word, word)


def terms(text: str) -> list[str]:
    """The matching terms of ``text`` (see the module docstring)."""
    out: list[str] = []
    lowered = text.lower()
    for word in _WORD.findall(lowered):
        word = word.replace("'", "")
        if word == "where":
            out.append("address")  # "where are you?" asks for the address, in any wording
            continue
        if word in _STOP_WORDS:
            continue
        stemmed = _stem(word)
        if stemmed not in _STOP_WORDS:
            out.append(_SYNONYMS.get(word, stemmed))
    for run in _CJK_RUN.findall(text):
        for word in _jieba().lcut_for_search(run):
            if word not in _CJK_STOP_WORDS:
                out.append(_SYNONYMS.get(word, word))
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
    context: frozenset[str] = frozenset()  # the FAQ question's or the heading's terms, the title's
    context_text: str = ""
    quotable: bool = True
    is_heading: bool = False
    coverage: float = 0.0


_PREFIX = re.compile(r"^\s*(?:[QA]|Question|Answer|问|答|問)\s*[:\uff1a]\s*", re.IGNORECASE)
# "name: Mapo tofu; price: 12.50; ..." — a record rendered as key/value pairs is data, not a sentence.
_RECORD = re.compile(r"(?:^|;\s*)[^:;]{1,40}:\s*[^;]*;\s*[^:;]{1,40}:")
_TERMINAL = tuple(".!?…\u3002\uff01\uff1f")


# A line break inside a sentence (hard-wrapped text: "... or events, call\n+31 20 555 0188."):
# a line of six words or more that does not end a sentence runs on into the next one, unless
# that one starts a list item or a heading.


def _unwrap(text: str) -> str:
    lines = text.split("\n")
    out = [lines[0]] if lines else []
    for line in lines[1:]:
        previous = out[-1]
        if (len(previous.split()) >= 6 and not previous.rstrip().endswith((*_TERMINAL, ":", ";"))
                and line.strip() and not re.match(r"\s*(?:[#*\-•]|\d+[.)]\s)", line)):
            out[-1] = previous.rstrip() + " " + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)


def _split_sentences(text: str) -> list[tuple[str, bool]]:
    """(sentence, ends_cleanly): a sentence ends cleanly at its punctuation or a line break."""
    text = _unwrap(text)
    sentences = []
    for match in _SENTENCE.finditer(text):
        raw = match.group(0)
        sentence = _PREFIX.sub("", raw.strip()).strip()
        if sentence and any(ch.isalnum() for ch in sentence):
            clean = sentence.endswith(_TERMINAL) or match.end() < len(text)
            sentences.append((sentence, clean))
    return sentences


def _passage_sentences(p_index: int, passage: PassageRef) -> list[_Sentence]:
    out: list[_Sentence] = []
    for position, (sentence, clean) in enumerate(_split_sentences(passage.text)):
        raw_question = sentence.rstrip().endswith(("?", "\uff1f"))
        item = _Sentence(p_index, position, sentence, frozenset(terms(sentence)), raw_question)
        # A chunk may start inside a sentence (lower-case start) or stop before its end (a
        # long last part without its full stop): such fragments are never quoted; the whole
        # sentence is in the neighbouring chunk. A short unpunctuated line is a label or a
        # list item, and stays.
        fragment = (position == 0 and sentence[:1].islower()) or (not clean and len(sentence.split()) >= 12)
        item.quotable = not fragment and not _RECORD.search(sentence)
        out.append(item)
    # Context: an FAQ answer carries its question's terms; a section's sentences their
    # heading's (a heading: a short unpunctuated line followed by a real sentence; a list of
    # short lines is content); every sentence its source's title.
    title = frozenset(terms(passage.source_title))
    context, context_text = title, passage.source_title
    for index, item in enumerate(out):
        following = out[index + 1] if index + 1 < len(out) else None
        if _heading_like(item.text) and following is not None and not _heading_like(following.text):
            item.is_heading = True
            context, context_text = title | item.terms, f"{passage.source_title} {item.text}"
            continue
        if item.is_question:
            context, context_text = title | item.terms, f"{passage.source_title} {item.text}"
            continue
        item.context, item.context_text = context, context_text
    return out


class ExtractiveChatBackend:
    """Quotes the passages that answer the question. Stateless; safe to share."""

    name = "extractive"
    model = "extractive"

    def __init__(self, *, fallback_text: str = DEFAULT_FALLBACK) -> None:
        self.fallback_text = fallback_text

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta | ChatResult]:
        sentences, cited = self.answer(request)
        if not sentences:
            text = request.fallback_text or self.fallback_text
            yield ChatDelta(text)
            yield self._result(text, [], abstained=True)
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

    def _result(self, text: str, cited: list[PassageRef], *, abstained: bool = False) -> ChatResult:
        return ChatResult(text=text, finish_reason="stop", prompt_tokens=0,
                          completion_tokens=rough_token_count(text), backend=self.name, model=self.model,
                          cited=cited, abstained=abstained)

    def answer(self, request: ChatRequest) -> tuple[list[str], list[PassageRef]]:
        """The sentences that answer ``request.question`` and the passages they come from;
        ([], []) when none does (see the module docstring)."""
        # A number in the question ("a table for 10") is a detail of it, not what it is about.
        texts = [clause for clause in _clauses(request.question)
                 if {t for t in terms(clause) if not t.isdigit()}]
        clauses = [{t for t in terms(clause) if not t.isdigit()} for clause in texts]
        # "How much is a filling?" is answered by a sentence that states an amount, not by one
        # that happens to share its words ("fill in the health form" under "Treatments and prices").
        amounts = [bool(_ASKS_AMOUNT.search(text)) or "price" in clause or "价格" in clause
                   for text, clause in zip(texts, clauses, strict=True)]
        question_terms = set().union(*clauses) if clauses else set()
        if not question_terms or not request.passages:
            return [], []
        sentences: list[_Sentence] = []
        for p_index, passage in enumerate(request.passages):
            sentences += _passage_sentences(p_index, passage)
        if not sentences:
            return [], []
        n = len(sentences)
        df = {t: sum(1 for s in sentences if t in s.terms or t in s.context) for t in question_terms}
        # A question term no passage contains weighs like the rarest one: it is what the
        # customer asks about, and nothing here speaks of it. In a passage very close to the
        # question in meaning (LENIENT_SIMILARITY) a question word that passage lacks weighs
        # like a common word instead: there it is more likely the customer's wording ("fit"
        # for "seats", "to the restaurant") than a missing fact.
        cjk_terms = {t for t in question_terms if _CJK_CHAR.search(t)}
        strict = {t: math.log(1 + (n + 1) / (max(df[t], 1) - 0.5)) for t in question_terms}
        common = math.log(1 + (n + 1) / (n / 2 + 0.5))
        passage_terms: dict[int, set[str]] = {}
        for s in sentences:
            passage_terms.setdefault(s.passage_index, set()).update(s.terms | s.context)
        # A term nothing in the passages mentions ("wifi" beside the parking answer) is what the
        # question is about and the knowledge does not know: no sentence answers that clause,
        # however much else it shares ("free … for guests"), unless its passage is very close in
        # meaning (the customer's own wording, as above).
        unknown = {t for t in question_terms if df[t] == 0 and t not in cjk_terms}
        for s in sentences:
            similarity = request.passages[s.passage_index].similarity
            weight = strict
            lenient = similarity is not None and similarity >= LENIENT_SIMILARITY
            if lenient:
                absent = question_terms - passage_terms[s.passage_index]
                weight = {t: (common if t in absent else w) for t, w in strict.items()}
            known = s.terms | s.context
            # Chinese words segment differently in a question and a passage (送 / 送餐): a
            # Chinese term inside the sentence's text counts.
            known |= {t for t in cjk_terms if t in s.text or t in s.context_text}
            s.coverage = 0.0
            for clause, amount in zip(clauses, amounts, strict=True):
                if any(t in REQUIRED and t not in known for t in clause):
                    continue  # "do you deliver X?" needs a sentence that delivers
                if amount and not _AMOUNT.search(s.text):
                    continue  # a price question needs a sentence with a number
                if not lenient and clause & unknown:
                    continue  # it asks about something no passage mentions
                s.coverage = max(s.coverage, sum(weight[t] for t in clause & known) / sum(weight[t] for t in clause))
        candidates = [s for s in sentences
                      if s.quotable and not s.is_question and not s.is_heading and s.coverage >= MIN_COVERAGE]
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
            if len(chosen) == MAX_SENTENCES or score(s) < best * KEEP_SHARE:
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


# A compound question ("When are you open, and are you closed on Mondays?") is answered part by
# part: it splits at sentence ends, semicolons and ", and <verb>", never at a plain "and"
# ("fish and chips" stays one thing).
_CLAUSE = re.compile(r"[?!;\uff1f\uff01\uff1b\u3002]+|,?\s+(?:and|also|or)\s+(?=(?:are|is|do|does|can|could|what|"
                     r"when|where|how|will|would|which|who)\b)|,\s+(?=(?:are|is|do|does|can|could|what|when|where|"
                     r"how|will|would|which|who)\b)", re.IGNORECASE)


def _clauses(question: str) -> list[str]:
    return [part for part in _CLAUSE.split(question) if part and part.strip()]


def _heading_like(text: str) -> bool:
    """A short line with no sentence ending: a title, a label ("Opening hours", "Bookings:")."""
    return len(text.split()) <= 8 and not text.rstrip().endswith(_TERMINAL) and len(text) <= 60


def _joiner(previous: str) -> str:
    # CJK text runs on without spaces; everything else gets one.
    return "" if previous and (_CJK_CHAR.match(previous[-1]) or previous[-1] in _CJK_END) else " "
