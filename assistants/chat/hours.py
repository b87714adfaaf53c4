"""Opening hours: ``{"mon": [["11:30", "14:30"], ["18:00", "22:00"]], ...}`` in the business's
time zone. A missing day is closed; an empty dict means "hours unknown" (never closed). A range
whose end is not after its start runs past midnight ("18:00"-"02:00"); "24:00" ends the day."""

from __future__ import annotations

import datetime as dt
import zoneinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _minutes(value: str) -> int | None:
    try:
        hours, minutes = str(value).split(":")
        total = int(hours) * 60 + int(minutes)
    except (ValueError, TypeError):
        return None
    return total if 0 <= total <= 24 * 60 else None


def _intervals(hours: dict, monday: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Opening intervals of the week starting at ``monday`` (local midnight, naive)."""
    out = []
    for index, day in enumerate(DAYS):
        for entry in hours.get(day) or []:
            if not isinstance(entry, list | tuple) or len(entry) != 2:
                continue
            start, end = _minutes(entry[0]), _minutes(entry[1])
            if start is None or end is None:
                continue
            if end <= start:
                end += 24 * 60
            base = monday + dt.timedelta(days=index)
            out.append((base + dt.timedelta(minutes=start), base + dt.timedelta(minutes=end)))
    return out


def next_opening(hours: dict, tz_name: str, now: dt.datetime) -> dt.datetime | None:
    """None when open now (or hours unknown / never open); else the next opening, local time."""
    if not hours:
        return None
    tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    local = now.astimezone(tz).replace(tzinfo=None)
    monday = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time())
    intervals = []
    for week in (-1, 0, 1):
        intervals += _intervals(hours, monday + dt.timedelta(weeks=week))
    if any(start <= local < end for start, end in intervals):
        return None
    upcoming = sorted(start for start, _ in intervals if start > local)
    return upcoming[0].replace(tzinfo=tz) if upcoming else None


def describe(opening: dt.datetime, now: dt.datetime) -> str:
    """"today at 18:00", "tomorrow at 11:30" or "Tuesday at 11:30" (in the opening's zone)."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    when = "today" if days == 0 else "tomorrow" if days == 1 else DAY_NAMES[opening.weekday()]
    return f"{when} at {opening:%H:%M}"
