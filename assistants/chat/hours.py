"""Opening hours: ``{"mon": [["11:30", "14:30"], ["18:00", "22:00"]], ...}`` in the business's
time zone. A missing day is closed; an empty dict means "hours unknown" (never closed). A range
whose end is not after its start runs past midnight ("18:00"-"02:00"); "24:00" ends the day.

Dated exceptions (``Assistant.hours_exceptions``) override a day's hours:
``[{"date": "2026-12-25", "closed": true, "note": "Christmas"},
{"date": "2026-12-31", "hours": [["12:00", "16:00"]], "note": "New Year's Eve"}]``.

``hours_answer`` answers "are you open now / on Saturday / at Christmas / on 31 December?",
"what time do you close today?" and "what are your opening hours?" from these, in English or
Chinese; None when the question is not about opening hours or no hours are set.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_NAMES_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


def _minutes(value: str) -> int | None:
    try:
        hours, minutes = str(value).split(":")
        total = int(hours) * 60 + int(minutes)
    except (ValueError, TypeError):
        return None
    return total if 0 <= total <= 24 * 60 else None


def _exceptions_by_date(exceptions) -> dict[dt.date, dict]:
    out = {}
    for entry in exceptions or []:
        try:
            out[dt.date.fromisoformat(str(entry.get("date")))] = entry
        except (ValueError, AttributeError):
            continue
    return out


def _ranges(hours: dict, exceptions: dict[dt.date, dict], day: dt.date) -> list:
    """The [open, close] pairs of one local date: its exception's, else its weekday's."""
    entry = exceptions.get(day)
    if entry is not None:
        return [] if entry.get("closed") else list(entry.get("hours") or [])
    return list(hours.get(DAYS[day.weekday()]) or [])


def _day_intervals(hours: dict, exceptions: dict, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    out = []
    base = dt.datetime.combine(day, dt.time())
    for entry in _ranges(hours, exceptions, day):
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            continue
        start, end = _minutes(entry[0]), _minutes(entry[1])
        if start is None or end is None:
            continue
        if end <= start:
            end += 24 * 60
        out.append((base + dt.timedelta(minutes=start), base + dt.timedelta(minutes=end)))
    return out


def _intervals_around(hours: dict, exceptions: dict, local: dt.datetime, days: int = 8):
    first = local.date() - dt.timedelta(days=1)
    out = []
    for offset in range(days + 1):
        out += _day_intervals(hours, exceptions, first + dt.timedelta(days=offset))
    return out


def next_opening(hours: dict, tz_name: str, now: dt.datetime, exceptions=None) -> dt.datetime | None:
    """None when open now (or hours unknown / never open); else the next opening, local time."""
    if not hours:
        return None
    tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    local = now.astimezone(tz).replace(tzinfo=None)
    intervals = _intervals_around(hours, _exceptions_by_date(exceptions), local, days=15)
    if any(start <= local < end for start, end in intervals):
        return None
    upcoming = sorted(start for start, _ in intervals if start > local)
    return upcoming[0].replace(tzinfo=tz) if upcoming else None


def describe(opening: dt.datetime, now: dt.datetime, language: str = "en") -> str:
    """"today at 18:00", "tomorrow at 11:30" or "Tuesday at 11:30" (in the opening's zone)."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    if language == "zh":
        when = "今天" if days == 0 else "明天" if days == 1 else DAY_NAMES_ZH[opening.weekday()]
        return f"{when}{opening:%H:%M}"
    when = "today" if days == 0 else "tomorrow" if days == 1 else DAY_NAMES[opening.weekday()]
    return f"{when} at {opening:%H:%M}"


# --------------------------------------------------------------------------- questions

_ABOUT_HOURS_EN = re.compile(
    r"\b(?:open|opens|opening|close|closes|closing|closed|shut|hours|what time)\b", re.IGNORECASE)
_NOT_HOURS_EN = re.compile(r"\bopen (?:a|an|the) (?:tab|account|bottle)\b|\bclose (?:to|by)\b", re.IGNORECASE)
_ABOUT_HOURS_ZH = ("营业", "營業", "开门", "開門", "关门", "關門", "几点", "幾點", "打烊", "休息", "开放", "開放",
                   "开着", "開著", "上班")
_NOW = re.compile(r"\b(?:now|right now|at the moment|currently)\b", re.IGNORECASE)
_TODAY = re.compile(r"\b(?:today|tonight|this evening)\b", re.IGNORECASE)
_TOMORROW = re.compile(r"\btomorrow\b", re.IGNORECASE)
_WEEKDAY = re.compile(r"\b(mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?s?\b", re.IGNORECASE)
_WEEKDAY_ZH = re.compile(r"(?:周|週|星期|礼拜|禮拜)([一二三四五六日天])")
_ZH_DAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DATE_ZH = re.compile(r"(\d{1,2})月(\d{1,2})[日号號]")
_DATE_EN = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(" + "|".join(m[:3] for m in MONTHS)
                      + r")[a-z]*\b|\b(" + "|".join(m[:3] for m in MONTHS) + r")[a-z]*\s+(\d{1,2})(?:st|nd|rd|th)?\b",
                      re.IGNORECASE)
_HOLIDAYS = (  # (words, month, day, English name)
    (("christmas eve", "平安夜"), 12, 24, "Christmas Eve"),
    (("christmas", "xmas", "圣诞", "聖誕"), 12, 25, "Christmas Day"),
    (("boxing day",), 12, 26, "Boxing Day"),
    (("new year's eve", "new years eve", "除夕夜", "跨年"), 12, 31, "New Year's Eve"),
    (("new year", "元旦"), 1, 1, "New Year's Day"),
)


def is_hours_question(question: str) -> bool:
    if any(word in question for word in _ABOUT_HOURS_ZH):
        return True
    return bool(_ABOUT_HOURS_EN.search(question)) and not _NOT_HOURS_EN.search(question)


def _upcoming(local_today: dt.date, month: int, day: int) -> dt.date | None:
    for year in (local_today.year, local_today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate >= local_today:
            return candidate
    return None


def _target(question: str, today: dt.date, exceptions: dict[dt.date, dict]) -> tuple[str, dt.date | None, str]:
    """(kind, date, label): kind is "now", "day" or "week" (no day named)."""
    lowered = question.lower()
    for day, entry in sorted(exceptions.items()):
        note = str(entry.get("note") or "").strip().lower()
        if note and len(note) >= 3 and note in lowered and day >= today:
            return "day", day, str(entry.get("note"))
    for words, month, day, name in _HOLIDAYS:
        if any(word in lowered for word in words):
            date = _upcoming(today, month, day)
            if date:
                return "day", date, name
    if m := _DATE_ISO.search(question):
        try:
            return "day", dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), ""
        except ValueError:
            pass
    if m := _DATE_ZH.search(question):
        date = _upcoming(today, int(m.group(1)), int(m.group(2)))
        if date:
            return "day", date, ""
    if m := _DATE_EN.search(question):
        day_text, month_text = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        month = [x[:3] for x in MONTHS].index(month_text[:3].lower()) + 1
        date = _upcoming(today, month, int(day_text))
        if date:
            return "day", date, ""
    if _NOW.search(question) or "现在" in question or "現在" in question or "目前" in question:
        return "now", today, ""
    if _TOMORROW.search(question) or "明天" in question:
        return "day", today + dt.timedelta(days=1), "tomorrow"
    if _TODAY.search(question) or "今天" in question or "今晚" in question:
        return "day", today, "today"
    if m := _WEEKDAY_ZH.search(question):
        index = _ZH_DAY_INDEX[m.group(1)]
        return "day", today + dt.timedelta(days=(index - today.weekday()) % 7), DAY_NAMES[index]
    if m := _WEEKDAY.search(question):
        index = [d[:3] for d in DAY_NAMES_LOWER].index(m.group(1).lower()[:3])
        return "day", today + dt.timedelta(days=(index - today.weekday()) % 7), DAY_NAMES[index]
    if _WHAT_TIME.search(question) or "几点" in question or "幾點" in question:
        return "day", today, "today"  # "what time do you close?" is about today
    return "week", None, ""


_WHAT_TIME = re.compile(r"(?:what time|when|until when|how late|how early)", re.IGNORECASE)
_YES_NO = re.compile(r"^\s*(?:are|is|will|do|does|can|could|would|r u)\b", re.IGNORECASE)


DAY_NAMES_LOWER = tuple(d.lower() for d in DAY_NAMES)


def _range_text(ranges: list, language: str) -> str:
    pieces = [f"{a}–{b}" for a, b in ranges]
    if language == "zh":
        return "、".join(pieces)
    return pieces[0] if len(pieces) == 1 else ", ".join(pieces[:-1]) + " and " + pieces[-1]


def _day_label(date: dt.date, label: str, today: dt.date, language: str) -> str:
    if language == "zh":
        if date == today:
            return f"今天（{DAY_NAMES_ZH[date.weekday()]}）"
        if date == today + dt.timedelta(days=1):
            return f"明天（{DAY_NAMES_ZH[date.weekday()]}）"
        return f"{date.month}月{date.day}日（{DAY_NAMES_ZH[date.weekday()]}）"
    if label in ("today", "tomorrow"):
        return f"{label} ({DAY_NAMES[date.weekday()]})"
    if label in DAY_NAMES and (date - today).days < 7:
        return f"on {label}"
    named = f" ({label})" if label and label not in DAY_NAMES else ""
    return f"on {DAY_NAMES[date.weekday()]} {date.day} {MONTHS[date.month - 1].capitalize()}{named}"


def hours_answer(question: str, *, hours: dict, exceptions, tz_name: str, now: dt.datetime,
                 language: str = "en") -> str | None:
    """The answer to an opening-hours question from the structured hours; None if the question
    is not about hours or no hours are set (see the module docstring)."""
    if not hours or not is_hours_question(question):
        return None
    tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    local = now.astimezone(tz)
    today = local.date()
    by_date = _exceptions_by_date(exceptions)
    kind, date, label = _target(question, today, by_date)
    zh = language == "zh"
    if kind == "now":
        naive = local.replace(tzinfo=None)
        current = [(s, e) for s, e in _intervals_around(hours, by_date, naive, days=1) if s <= naive < e]
        if current:
            until = f"{current[0][1]:%H:%M}"
            return f"是的，我们现在营业，今天营业到{until}。" if zh else f"Yes, we're open now, until {until} today."
        opening = next_opening(hours, tz_name, now, exceptions)
        if opening is None:
            return "我们现在不营业。" if zh else "No, we're closed right now."
        when = describe(opening, now, language)
        return (f"我们现在不营业，下次营业时间是{when}。" if zh
                else f"No, we're closed right now. We open again {when}.")
    if kind == "day":
        ranges = _ranges(hours, by_date, date)
        entry = by_date.get(date)
        note = str(entry.get("note") or "") if entry else ""
        label = label or note
        when = _day_label(date, label, today, language)
        yes_no = bool(_YES_NO.search(question)) or question.rstrip("？?").endswith(("吗", "嗎", "么", "麼"))
        if not ranges:
            if zh:
                return f"{when}我们不营业{'（' + note + '）' if note else ''}。"
            return f"{'No, w' if yes_no else 'W'}e're closed {when}."
        if zh:
            return f"{when}我们营业，时间是{_range_text(ranges, language)}。"
        special = " (special hours)" if entry else ""
        opening = f"we're open {_range_text(ranges, language)}{special}."
        return f"Yes, {when} {opening}" if yes_no else f"{when[0].upper() + when[1:]} {opening}"
    return _week(hours, by_date, today, language)


def _week(hours: dict, exceptions: dict, today: dt.date, language: str) -> str:
    zh = language == "zh"
    open_days, closed = [], []
    for index, day in enumerate(DAYS):
        ranges = hours.get(day) or []
        name = DAY_NAMES_ZH[index] if zh else DAY_NAMES[index]
        if ranges:
            open_days.append(f"{name} {_range_text(ranges, language)}")
        else:
            closed.append(name)
    if zh:
        text = "我们的营业时间：" + "；".join(open_days) + "。"
        if closed:
            text += "、".join(closed) + "休息。"
    else:
        text = "Our opening hours: " + "; ".join(open_days) + "."
        if closed:
            text += " Closed on " + (closed[0] if len(closed) == 1 else ", ".join(closed[:-1]) + " and "
                                     + closed[-1]) + "."
    soon = [(d, e) for d, e in sorted(exceptions.items()) if today <= d <= today + dt.timedelta(days=30)]
    for d, entry in soon[:3]:
        note = str(entry.get("note") or "")
        ranges = [] if entry.get("closed") else entry.get("hours") or []
        when = _day_label(d, note, today, language)
        if zh:
            text += f"{when}{'休息' if not ranges else '营业时间 ' + _range_text(ranges, language)}。"
        else:
            text += f" {when[0].upper() + when[1:]}: {'closed' if not ranges else _range_text(ranges, language)}."
    return text
