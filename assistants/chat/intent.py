"""Does a customer ask for a person? A small multilingual list, kept deliberately narrow:
"a table for one person" must not page the owner, "can I talk to a person" must."""

from __future__ import annotations

import re

_WORDS = (
    # English
    r"human", r"humans", r"agent", r"operator", r"representative", r"staff", r"someone real",
    r"(?:real|live|actual) (?:person|people|human)",
    r"(?:talk|speak|chat) (?:to|with) (?:a |an |the |some |your )?"
    r"(?:person|someone|somebody|people|owner|manager|staff)",
    # Spanish, Portuguese, Italian
    r"humano", r"agente", r"operador", r"operatore", r"hablar con (?:una persona|alguien)",
    r"falar com (?:uma pessoa|alguém)",
    r"parlare con (?:una persona|qualcuno)",
    # French, German, Dutch
    r"humain", r"conseiller", r"parler à (?:une personne|quelqu'un)", r"mensch", r"mitarbeiter", r"medewerker",
)
_HUMAN = re.compile(r"(?<!\w)(?:" + "|".join(_WORDS) + r")(?!\w)", re.IGNORECASE)
# CJK has no word boundaries: a substring is the match.
_HUMAN_CJK = ("人工", "真人", "客服", "转人工", "轉人工", "担当者", "オペレーター", "상담원", "직원")


def asks_for_person(text: str) -> bool:
    lowered = " ".join(text.lower().split())
    return bool(_HUMAN.search(lowered)) or any(word in text for word in _HUMAN_CJK)
