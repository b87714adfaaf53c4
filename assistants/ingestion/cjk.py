"""Make PostgreSQL's ``simple`` full-text search work for Chinese, Japanese and Korean.

The default text-search parser splits words on spaces and punctuation. CJK text has no
spaces, so ``to_tsvector('simple', '我们提供多种素食菜品')`` is ONE lexeme, and a question
can only match it by repeating the whole sentence. There is no pg_trgm or zhparser on our
embedded PostgreSQL, so the segmentation happens here, in the application, on both sides:

Index side — :func:`expand_cjk_for_index`: every run of CJK characters is replaced by its
character unigrams followed by its overlapping bigrams, separated by spaces::

    "我们提供素食"  ->  "我 们 提 供 素 食 我们 们提 提供 供素 素食"

so ``to_tsvector('simple', expanded)`` holds each character and each adjacent pair as its
own lexeme. Non-CJK text is left exactly as it is, so English words index as before.

Query side — :func:`cjk_query_terms`: every CJK run of the question becomes its bigrams
(a run of a single character becomes that unigram), and all terms are joined with `` or ``
for ``websearch_to_tsquery('simple', terms)``::

    "你们有素食菜吗?"  ->  "你们 or 们有 or 有素 or 素食 or 食菜 or 菜吗"

How they match: a chunk matches when it contains at least one of the question's bigrams as
a lexeme (here 素食, present in "我们提供多种素食菜品"), and ``ts_rank`` grows with the number of
shared bigrams, so a chunk sharing 素食 *and* 食菜 ranks above one sharing only 素食. Bigrams
rather than unigrams on the query side because single characters (的, 有, 吗) match nearly
every Chinese chunk; unigrams are indexed so one-character questions ("茶?") still match.
The OR is deliberate: CJK questions carry words the answer never contains (你们, 吗), so
AND-ing every bigram would match nothing. ``websearch_to_tsquery`` has no parentheses, so an
OR group cannot be AND-ed with other words; when the question contains CJK, its non-CJK
words (e.g. "wifi 密码") are OR-ed in as well. A question without CJK is returned unchanged,
so existing English search behaviour does not move.

Both sides apply NFKC first (full-width question marks become ASCII, half-width katakana becomes full-width),
the same folding the ingestion normaliser applies to chunk text. CJK punctuation
(U+3000-U+303F) is turned into spaces on both sides; in a C-locale database
the parser would otherwise glue it to the neighbouring characters as part of a word.
"""

from __future__ import annotations

import re
import unicodedata

# Han (CJK Unified Ideographs, Extension A, compatibility, Extensions B+ in the SIP),
# ideographic iteration/closing marks and number zero (々〆〇), Hiragana, Katakana (incl. the
# prolonged sound mark and phonetic extensions), half-width Katakana, Hangul syllables and
# Jamo.
_CJK_CLASS = (
    "\u3005-\u3007"
    "\u3040-\u309f"
    "\u30a0-\u30ff"
    "\u31f0-\u31ff"
    "\u3400-\u4dbf"
    "\u4e00-\u9fff"
    "\uf900-\ufaff"
    "\uff66-\uff9f"
    "\u1100-\u11ff"
    "\u3130-\u318f"
    "\uac00-\ud7af"
    "\U00020000-\U0003134f"
)
_CJK_RUN_RE = re.compile(f"[{_CJK_CLASS}]+")
# CJK symbols and punctuation block, minus 々〆〇 which are letters.
_CJK_PUNCT_RE = re.compile("[\u3000-\u3004\u3008-\u303f\uff61-\uff65]")
_QUERY_WORD_RE = re.compile(r"\w+")


def contains_cjk(text: str) -> bool:
    return _CJK_RUN_RE.search(text) is not None


def _unigrams_and_bigrams(run: str) -> str:
    if len(run) == 1:
        return run
    return " ".join([*run, *(run[i : i + 2] for i in range(len(run) - 1))])


def expand_cjk_for_index(text: str) -> str:
    """Return ``text`` with each CJK run replaced by its unigrams and overlapping bigrams,
    for ``to_tsvector('simple', ...)``. Text without CJK is returned unchanged."""
    if not contains_cjk(text):
        return text
    text = _CJK_PUNCT_RE.sub(" ", unicodedata.normalize("NFKC", text))
    return _CJK_RUN_RE.sub(lambda m: f" {_unigrams_and_bigrams(m.group())} ", text)


def cjk_query_terms(query: str) -> str:
    """Return the query string for ``websearch_to_tsquery('simple', ...)``.

    Without CJK the query is returned unchanged. With CJK: the bigrams of each CJK run (a
    one-character run gives its unigram) and the non-CJK words, de-duplicated, joined with
    ``" or "``. Returns ``""`` when nothing searchable is left (the caller should then skip
    the full-text side).
    """
    if not contains_cjk(query):
        return query
    query = unicodedata.normalize("NFKC", query)
    terms: list[str] = []
    position = 0
    for match in _CJK_RUN_RE.finditer(query):
        terms.extend(_QUERY_WORD_RE.findall(_CJK_PUNCT_RE.sub(" ", query[position : match.start()])))
        run = match.group()
        if len(run) == 1:
            terms.append(run)
        else:
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        position = match.end()
    terms.extend(_QUERY_WORD_RE.findall(_CJK_PUNCT_RE.sub(" ", query[position:])))
    # "or" typed by the user is an operator for websearch_to_tsquery; drop it as a term.
    unique = list(dict.fromkeys(t.lower() for t in terms if t.lower() != "or"))
    return " or ".join(unique)
