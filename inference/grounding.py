"""The grounding gate for generated answers (DESIGN.md "Answers: grounded or handed off").

A model's answer reaches the customer one sentence at a time, and only a sentence that passes:

- every ``[n]`` marker in it names a passage of the prompt (1..len(passages)); a marker to a
  passage that does not exist fails the sentence;
- every number in it (a price, time, date, phone number, quantity) appears in a passage the
  sentence marks, or, for a sentence without markers, in a passage the answer marked before;
  numbers compare by their digits ("11.50" matches "11.5", "€11.50", "11,50"; "18:00" matches
  "18.00" and "1800");
- a sentence without markers and without numbers passes ("Happy to help!"), but an answer
  whose passed sentences mark no passage at all is not grounded: nothing is released until a
  sentence has marked a passage, so an ungrounded answer is never streamed.

The first failing sentence ends the answer: what passed before it is kept (it was already
sent), the rest is dropped. ``SentenceGate.finish`` says whether the answer is grounded and
which passages were cited; the caller replaces an ungrounded answer by a verbatim quote or
the handoff. Markers are removed from the customer's text: the citations travel beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inference.types import PassageRef

__all__ = ["GateResult", "SentenceGate", "numbers_in"]

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
# A sentence ends at . ! ? followed by space/end, at a CJK sentence end, or at a line break.
_END = re.compile(r"(?:[.!?](?=\s)|[\u3002\uff01\uff1f]|\n)")
# A number: digits with inner separators (11.50, 18:00, 1,200, 020-555-0188 is three numbers).
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def _digits(number: str) -> str:
    """The comparable form of a number: digits only, trailing zeros of a decimal part dropped."""
    if re.fullmatch(r"\d+[.,]\d{1,2}", number):
        whole, frac = re.split(r"[.,]", number)
        frac = frac.rstrip("0")
        return whole.lstrip("0") + ("." + frac if frac else "") or "0"
    return re.sub(r"\D", "", number).lstrip("0") or "0"


def numbers_in(text: str) -> set[str]:
    """The numbers of ``text`` in comparable form (see ``_digits``)."""
    return {_digits(n) for n in _NUMBER.findall(text)}


def _number_forms(text: str) -> set[str]:
    """Every form a passage's number may take in an answer: "18:00" is also "18", "1800" and
    "6" (6 pm); "18:30" is also "6:30"; "12.00" is also "12"; "11.50" is also "11.5"."""
    forms: set[str] = set()
    for raw in _NUMBER.findall(text):
        forms.add(_digits(raw))
        time = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
        if time:
            hour, minutes = int(time.group(1)), time.group(2)
            twelve = hour - 12 if hour > 12 else hour
            for h in {hour, twelve}:
                forms.add(str(h) if minutes == "00" else _digits(f"{h}:{minutes}"))
                forms.add(_digits(f"{h}.{minutes}"))
        decimal = re.fullmatch(r"(\d+)[.,]00", raw)
        if decimal:
            forms.add(decimal.group(1).lstrip("0") or "0")
    return forms


@dataclass
class GateResult:
    text: str  # what passed, markers removed
    cited: list[PassageRef]  # the passages the passed sentences marked, in marker order
    grounded: bool  # something passed, and it marked at least one passage
    failed: str | None = None  # why the answer was cut, if it was
    rest: str = ""  # the part of ``text`` not yet returned by feed (send it only if grounded)


@dataclass
class SentenceGate:
    """Feed the model's deltas; get back the text that may be sent now (see the module docstring)."""

    passages: list[PassageRef]
    _pending: str = ""
    _passed: list[str] = field(default_factory=list)
    _cited: list[int] = field(default_factory=list)
    _failed: str | None = None
    _forms: dict[int, set[str]] = field(default_factory=dict)
    _released: int = 0  # sentences of _passed already returned

    def feed(self, text: str) -> str:
        """Text that passed and may be streamed now ("" while a sentence is incomplete)."""
        if self._failed:
            return ""
        self._pending += text
        while not self._failed:
            match = _END.search(self._pending)
            if match is None:
                break
            end = match.end()
            # Markers right after the sentence end belong to it ("... 11.50. [2]").
            rest = self._pending[end:]
            tail = re.match(r"(?:\s*\[\d{1,3}\])+", rest)
            if re.fullmatch(r"(?:\s*\[\d{1,3}\])*\s*(?:\[\d{0,3})?", rest):
                break  # wait: a marker may still follow this sentence
            if tail:
                end += tail.end()
            sentence, self._pending = self._pending[:end], self._pending[end:]
            self._check(sentence)
        return self._release() if self._cited else ""

    def finish(self) -> GateResult:
        """The end of the model's answer: checks the last sentence, then says what passed.
        Grounded: something passed and it marked at least one passage."""
        if not self._failed and self._pending.strip():
            self._check(self._pending)
        self._pending = ""
        rest = self._release()
        text = "".join(self._passed).strip()
        cited = [self.passages[i] for i in dict.fromkeys(self._cited)]
        return GateResult(text=text, cited=cited, grounded=bool(cited) and bool(text), failed=self._failed,
                          rest=rest)

    def _release(self) -> str:
        text = "".join(self._passed[self._released:])
        self._released = len(self._passed)
        return text

    def _check(self, sentence: str) -> str | None:
        marks = [int(n) for n in _MARKER.findall(sentence)]
        if any(not 1 <= n <= len(self.passages) for n in marks):
            self._failed = f"marker [{max(marks)}] names no passage"
            return None
        clean = _MARKER.sub("", sentence)
        if not clean.strip():
            self._cited.extend(n - 1 for n in marks)  # a lone marker after the sentence end
            return ""
        numbers = numbers_in(clean)
        if numbers:
            scope = [n - 1 for n in marks] or list(dict.fromkeys(self._cited))
            allowed: set[str] = set()
            for index in scope:
                if index not in self._forms:
                    self._forms[index] = _number_forms(self.passages[index].text)
                allowed |= self._forms[index]
            missing = sorted(numbers - allowed)
            if missing:
                self._failed = f"number {missing[0]} is in no cited passage"
                return None
        self._cited.extend(n - 1 for n in marks)
        self._passed.append(clean)
        return clean
