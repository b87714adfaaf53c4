"""Text clean-up applied to everything extracted before it is chunked.

The goal is text that embeds and full-text-indexes well and reads cleanly when quoted back
to a customer: same characters for the same words (NFKC), no invisible junk, words broken
across PDF lines re-joined, and paragraph structure preserved because the chunker splits on
paragraphs first.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 control characters except \t and \n (\r is turned into \n before this runs), plus
# invisible format characters that break tokenisation and exact-match search. ZWJ/ZWNJ
# (U+200C/U+200D) are kept on purpose: they change meaning in Persian, Indic scripts and
# emoji sequences.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufffe]")

# "reser-\nvation" -> "reservation". Only when a lowercase letter follows, so that
# "Wi-\nFi" or "Mon-\n12:00" keep their hyphen. This does join real compounds broken at the
# hyphen ("gluten-\nfree" -> "glutenfree"); that is the usual trade-off, and the far more
# common case in PDFs is a word split by the typesetter.
_HYPHENATION_RE = re.compile(r"(\w)[-\u2010][ \t]*\n[ \t]*(?=[a-zà-öø-ÿ])")

_HSPACE_RE = re.compile(r"[^\S\n]+")  # any whitespace except newline
_TRAILING_SPACE_RE = re.compile(r"[ ]*\n[ ]*")
_MANY_NEWLINES_RE = re.compile(r"\n{3,}")

# Unicode line/paragraph separators and form feeds (page breaks from pypdf) are paragraph
# breaks for our purposes.
_PARAGRAPH_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n\n", "\f": "\n\n", "\v": "\n"})


def normalize_text(text: str) -> str:
    """Return ``text`` cleaned for chunking and indexing.

    - Unicode NFKC, so full-width letters and digits and ligatures match their plain forms.
    - ``\\r\\n`` / ``\\r`` / form feeds / U+2028/9 become newlines.
    - Control and invisible format characters are removed.
    - A word hyphenated across a line break is re-joined.
    - Runs of spaces/tabs become one space; spaces around newlines are dropped.
    - Single newlines are kept (menus and lists are line-oriented); blank-line runs become
      exactly one blank line, which is what the chunker treats as a paragraph break.

    Idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_PARAGRAPH_BREAKS)
    text = _CONTROL_RE.sub("", text)
    text = _HSPACE_RE.sub(" ", text)
    text = _TRAILING_SPACE_RE.sub("\n", text)
    text = _HYPHENATION_RE.sub(r"\1", text)
    text = _MANY_NEWLINES_RE.sub("\n\n", text)
    return text.strip()


def normalize_inline(text: str) -> str:
    """Normalise and put on one line: for headings, titles and CSV values."""
    return " ".join(normalize_text(text).split())
