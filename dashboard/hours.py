"""Business hours as a person types them, and back: "11:30-14:30, 18:00-22:00" per day; one
exception per line, "2026-12-25 closed Christmas" or "2026-12-31 12:00-16:00 New Year's Eve".
The API's validators (assistants/serializers.py) judge the result."""

from __future__ import annotations

import re

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED_WORDS = ("closed", "休息", "关门", "不营业", "休业")
RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–—~至到]\s*(\d{1,2}:\d{2})\s*$")


class HoursTextError(ValueError):
    pass


def _pad(time: str) -> str:
    hours, minutes = time.split(":")
    return f"{int(hours):02d}:{minutes}"


def ranges_from_text(text: str) -> list[list[str]]:
    ranges = []
    for part in re.split(r"[,;，；]", text or ""):
        if not part.strip():
            continue
        match = RANGE.match(part)
        if match is None:
            raise HoursTextError(part.strip())
        ranges.append([_pad(match.group(1)), _pad(match.group(2))])
    return ranges


def ranges_to_text(ranges) -> str:
    return ", ".join(f"{start}-{end}" for start, end in ranges or [])


def exceptions_from_text(text: str) -> list[dict]:
    entries = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        date, _space, rest = line.strip().partition(" ")
        rest = rest.strip()
        closed = next((word for word in CLOSED_WORDS if rest.lower().startswith(word)), None)
        if closed:
            entry: dict = {"date": date, "closed": True}
            note = rest[len(closed):].strip()
        else:
            times, _space, note = rest.partition(" ")
            hours = []
            for chunk in times.split(","):
                hours += ranges_from_text(chunk)
            if not hours:
                raise HoursTextError(line.strip())
            entry = {"date": date, "hours": hours}
            note = note.strip()
        if note:
            entry["note"] = note[:100]
        entries.append(entry)
    return entries


def exceptions_to_text(entries) -> str:
    lines = []
    for entry in entries or []:
        what = "closed" if entry.get("closed") else ",".join(f"{a}-{b}" for a, b in entry.get("hours", []))
        lines.append(" ".join(part for part in (entry["date"], what, entry.get("note", "")) if part))
    return "\n".join(lines)
