"""The owner's commands, as typed on a phone to the business's WhatsApp number.

``command_parse(text)`` reads one message and returns a ``Command`` or None (not a command).
Nothing here touches the database: ``services.owner_command_run`` carries a command out.

    sold out mapo tofu      售罄 麻婆豆腐 / 麻婆豆腐 售罄 / 卖完 麻婆豆腐
    back mapo tofu          恢复 麻婆豆腐 / 有货 麻婆豆腐
    closed today            今天休息 / 今天不营业
    open today              今天营业  (undoes "closed today")
    hours sat 12-22         营业时间 周六 12-22   (also "hours sat 11:30-14:30, 18-22", "hours sun closed")
    digest                  周报 / 摘要   (the weekly digest again, for the last 7 days)
    help                    帮助
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_EN = re.compile(r"^(mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday|sday)?\.?$",
                     re.I)
_DAY_ZH = re.compile(r"^(?:周|週|星期|礼拜|禮拜)([一二三四五六日天])$")
_ZH_DAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?"
_RANGE = re.compile(rf"^{_TIME}\s*(?:-|–|—|~|to|至|到)\s*{_TIME}$", re.I)
_CLOSED = ("closed", "close", "休息", "不营业", "关门")

_SOLD_OUT_EN = re.compile(r"^(?:sold\s*out|soldout|out of)\s*[:\-]?\s+(.+)$", re.I | re.S)
_BACK_EN = re.compile(r"^(?:back|available|in stock|back in stock)\s*[:\-]?\s+(.+)$", re.I | re.S)
_SOLD_OUT_ZH = ("售罄", "卖完", "賣完", "沽清", "没了")
_BACK_ZH = ("恢复", "恢復", "有货", "有貨", "补货", "補貨")
_CLOSED_TODAY = re.compile(r"^(?:we(?:'re| are)\s+)?closed\s+today[.!]*$|"
                           r"^今天(?:休息|不营业|不營業|关门|關門)[。！!]*$", re.I)
_OPEN_TODAY = re.compile(r"^(?:we(?:'re| are)\s+)?open\s+today[.!]*$|^今天(?:营业|營業|开门|開門)[。！!]*$", re.I)
_HOURS = re.compile(r"^(?:hours|opening hours|营业时间|營業時間)\s*[:：]?\s*(\S+)\s+(.+)$", re.I | re.S)
_DIGEST = re.compile(r"^(?:(?:weekly\s+)?digest|周报|週報|摘要|每周摘要|每週摘要)[.!?。！？]*$", re.I)
_HELP = re.compile(r"^(?:help|commands|\?|帮助|幫助|命令)$", re.I)


class CommandError(ValueError):
    """A message that is a command but cannot be carried out as typed ("hours sat 25-26")."""


@dataclass(frozen=True)
class Command:
    kind: str  # sold_out, back, closed_today, open_today, hours, digest, help
    name: str = ""  # the item, as typed (sold_out, back)
    day: str = ""  # mon … sun (hours)
    ranges: tuple = ()  # (("12:00", "22:00"), …); empty: closed that day (hours)
    zh: bool = False  # typed in Chinese: confirmed in Chinese


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _strip_zh(text: str, words: tuple[str, ...]) -> str | None:
    """The item of "售罄 麻婆豆腐", "售罄：麻婆豆腐" or "麻婆豆腐 售罄"; None if no word is at an end."""
    text = text.rstrip("。！!.了啦")  # "麻婆豆腐卖完了！"
    for word in words:
        if text.startswith(word):
            return text[len(word):].strip(" :：,，")
        if text.endswith(word):
            return text[:-len(word)].strip(" :：,，")
    return None


def _time(hours: str, minutes: str | None) -> str:
    h, m = int(hours), int(minutes or 0)
    if h > 24 or m > 59 or (h == 24 and m):
        raise CommandError(f"{hours}:{minutes or '00'}")
    return f"{h % 24:02d}:{m:02d}"  # "12-24": 24:00 is the next day's 00:00 (the range runs to midnight)


def _day(text: str) -> str:
    if m := _DAY_EN.match(text):
        return DAYS[[d[:3] for d in DAYS].index(m.group(1)[:3].lower())]
    if m := _DAY_ZH.match(text):
        return DAYS[_ZH_DAY_INDEX[m.group(1)]]
    raise CommandError(text)


def _ranges(text: str) -> tuple:
    if text.strip().lower() in _CLOSED:
        return ()
    ranges = []
    for part in re.split(r"[,;，；]|\band\b|\s+和\s*", text):
        if not part.strip():
            continue
        m = _RANGE.match(part.strip())
        if m is None:
            raise CommandError(part.strip())
        ranges.append((_time(m.group(1), m.group(2)), _time(m.group(3), m.group(4))))
    if not ranges:
        raise CommandError(text)
    return tuple(ranges)


def command_parse(text: str) -> Command | None:
    """The command in ``text``, or None when it is none. Raises ``CommandError`` for an hours
    command whose day or times cannot be read."""
    text = " ".join((text or "").split())
    if not text:
        return None
    zh = _has_cjk(text)
    if _HELP.match(text):
        return Command("help", zh=zh)
    if _DIGEST.match(text):
        return Command("digest", zh=zh)
    if _CLOSED_TODAY.match(text):
        return Command("closed_today", zh=zh)
    if _OPEN_TODAY.match(text):
        return Command("open_today", zh=zh)
    if m := _HOURS.match(text):
        return Command("hours", day=_day(m.group(1)), ranges=_ranges(m.group(2)), zh=zh)
    if m := _SOLD_OUT_EN.match(text):
        return Command("sold_out", name=m.group(1).strip(" .!"), zh=zh)
    if m := _BACK_EN.match(text):
        return Command("back", name=m.group(1).strip(" .!"), zh=zh)
    for kind, words in (("sold_out", _SOLD_OUT_ZH), ("back", _BACK_ZH)):
        name = _strip_zh(text, words)
        if name:
            return Command(kind, name=name, zh=True)
    return None
