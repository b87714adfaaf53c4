"""The customer's language, for the answers composed here (catalog, hours, the handoff):
Chinese when the question is written in Chinese characters, English otherwise. Other
languages are answered by the model when one is configured."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")


def answer_language(question: str, default: str = "en") -> str:
    """"zh" or "en" (see the module docstring); ``default`` decides a question without letters."""
    if _HAN.search(question) and not _KANA_HANGUL.search(question):
        return "zh"
    if re.search(r"[^\W\d_]", question):
        return "en"
    return "zh" if (default or "").lower().startswith("zh") else "en"
