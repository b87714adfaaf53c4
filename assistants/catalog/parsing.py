"""Rows of an uploaded table (CSV, XLSX, a JSON list) → typed catalog items.

A table is a catalog when its header has a name-like and a price-like column (English and
Chinese synonyms below, case, spaces, dashes and underscores ignored); any other table stays
ordinary passages. Each row becomes the values of one ``CatalogItem``:

- name, category, description; price as a Decimal with its currency ("€12.50", "12,50 €",
  "$9", "¥38", "38元", "12.50 EUR"; a currency column or a header like "price (EUR)" also
  says it); a blank price is allowed (unknown);
- allergens from an allergens column ("wheat; peanuts, soy") normalised to the 14 EU
  allergens, other words kept as free text; a blank cell is *unknown*, "none" is none;
- dietary tags from yes/no columns (vegetarian, vegan, gluten-free, halal, ...: yes/no,
  true/false, y/n, 1/0, 是/否, ✓; blank: not stated) or a tags column ("vegan, gluten-free");
- spice level 0-5 (a number, or mild/medium/hot, 微辣/中辣/特辣, chilli signs);
- options ("6 pieces +0; 12 pieces +6.00", or a JSON list of {"name", "price_delta"});
- availability (an available/in-stock column, or a sold-out column);
- every other column goes to ``extra`` (a Chinese name, a code, ...).

A row that cannot be read (no name, a price that is not a number) is skipped and named in the
warnings with its row number; so is a value that cannot be read in an optional column (the
item keeps the rest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from assistants.catalog.allergens import DIETARY_TAGS, allergens_from_cell, dietary_for_word

__all__ = ["ParsedCatalog", "looks_like_catalog", "parse_catalog"]

MAX_NAME = 200
MAX_CATEGORY = 100


def _key(header: str) -> str:
    return " ".join(re.sub(r"[_\-./]+", " ", str(header).strip().lower()).split())


def _names(*words: str) -> frozenset[str]:
    return frozenset(_key(w) for w in words)


NAME = _names("name", "dish", "dish name", "item", "item name", "product", "product name", "title", "menu item",
              "菜名", "名称", "名稱", "品名", "菜品", "商品", "产品", "產品", "菜品名称")
PRICE = _names("price", "prices", "cost", "amount", "unit price", "price eur", "price usd", "price gbp",
               "价格", "價格", "价钱", "價錢", "售价", "售價", "单价", "單價")
CATEGORY = _names("category", "section", "type", "course", "group", "menu section", "分类", "分類", "类别", "類別",
                  "类型")
DESCRIPTION = _names("description", "details", "desc", "about", "描述", "说明", "說明", "介绍", "介紹")
ALLERGENS = _names("allergens", "allergen", "allergies", "allergy", "contains", "allergen info", "过敏原",
                   "過敏原", "过敏", "過敏")
TAGS = _names("tags", "dietary", "diet", "labels", "dietary tags", "标签", "標籤")
SPICE = _names("spice", "spicy", "spice level", "heat", "chilli", "chili", "辣度", "辣")
OPTIONS = _names("options", "variants", "sizes", "size", "choices", "规格", "規格", "选项", "選項")
AVAILABLE = _names("available", "availability", "in stock", "instock", "有货", "供应", "供應")
SOLD_OUT = _names("sold out", "soldout", "售罄")
CURRENCY = _names("currency", "货币", "貨幣")

_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "CNY", "￥": "CNY", "元": "CNY", "rmb": "CNY",
            "cny": "CNY", "eur": "EUR", "usd": "USD", "gbp": "GBP", "chf": "CHF", "hk$": "HKD", "hkd": "HKD",
            "us$": "USD", "a$": "AUD", "aud": "AUD", "c$": "CAD", "cad": "CAD", "jpy": "JPY", "kr": "SEK",
            "sek": "SEK", "nok": "NOK", "dkk": "DKK"}
_CURRENCY_IN = re.compile(
    r"hk\$|us\$|a\$|c\$|[€$£¥￥元]|\b(?:rmb|cny|eur|usd|gbp|chf|hkd|aud|cad|jpy|sek|nok|dkk|kr)\b", re.IGNORECASE)
_YES = frozenset({"yes", "y", "true", "1", "x", "✓", "✔", "是", "有", "v"})
_NO = frozenset({"no", "n", "false", "0", "-", "否", "无", "無", "不是"})
_SPICE_WORDS = {"none": 0, "not spicy": 0, "mild": 1, "medium": 2, "hot": 3, "very hot": 4, "extra hot": 5,
                "不辣": 0, "微辣": 1, "小辣": 1, "中辣": 2, "辣": 3, "大辣": 4, "特辣": 4, "超辣": 5}


@dataclass
class ParsedCatalog:
    items: list[dict] = field(default_factory=list)  # CatalogItem field values, in file order
    warnings: list[str] = field(default_factory=list)


def _role(header: str) -> str | None:
    key = _key(header)
    for role, names in (("name", NAME), ("category", CATEGORY), ("description", DESCRIPTION),
                        ("allergens", ALLERGENS), ("tags", TAGS), ("spice", SPICE), ("options", OPTIONS),
                        ("available", AVAILABLE), ("sold_out", SOLD_OUT), ("currency", CURRENCY)):
        if key in names:
            return role
    if key in PRICE or re.match(r"^(?:price|cost|价格|價格|售价)\b", key):
        return "price"
    tag = dietary_for_word(key)
    if tag is not None and (len(key) > 2 or not key.isascii()):  # "v" is a shorthand, "素食" a word
        return f"dietary:{tag}"
    return None


def looks_like_catalog(header: list[str]) -> bool:
    roles = {_role(h) for h in header if h}
    return "name" in roles and "price" in roles


def parse_price(value, currency_hint: str = "") -> tuple[Decimal | None, str]:
    """("12.50", "EUR") from "€12.50", "12,50 €", "EUR 12.50", 12.5; (None, "") for blank.
    Raises ValueError for text that is not a price."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ""
    if isinstance(value, bool):
        raise ValueError(str(value))
    if isinstance(value, int | float | Decimal):
        amount = Decimal(str(value))
        currency = currency_hint
    else:
        text = str(value).strip()
        found = _CURRENCY_IN.search(text)
        currency = _SYMBOLS.get(found.group(0).lower(), "") if found else currency_hint
        number = _CURRENCY_IN.sub("", text).replace(" ", "").replace("\u00a0", "")
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}", number):  # 1.299,00
            number = number.replace(".", "").replace(",", ".")
        elif re.fullmatch(r"\d+,\d{1,2}", number):  # 12,50
            number = number.replace(",", ".")
        else:
            number = re.sub(r"(?<=\d),(?=\d{3}\b)", "", number)  # 1,299.00
        if number.endswith((".-", ",-")):
            number = number[:-2]
        if not re.fullmatch(r"\d+(?:\.\d+)?", number):
            raise ValueError(text)
        amount = Decimal(number)
    if amount < 0 or amount >= Decimal("100000000"):
        raise ValueError(str(value))
    return amount.quantize(Decimal("0.01")), currency


def _flag(value) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(text)


def _spice(value) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        level = int(value)
    else:
        text = str(value).strip().lower()
        if text in _SPICE_WORDS:
            level = _SPICE_WORDS[text]
        elif re.fullmatch(r"\d+(?:\.0)?", text):
            level = int(float(text))
        elif re.fullmatch(r"(?:🌶️?|\*)+", text):
            level = text.count("🌶") or text.count("*")
        else:
            raise ValueError(text)
    if not 0 <= level <= 5:
        raise ValueError(str(value))
    return level


def _options(value) -> list[dict]:
    if value is None or value == "":
        return []
    entries = value if isinstance(value, list) else [p for p in re.split(r"\s*[;|\n]\s*", str(value)) if p.strip()]
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            name = str(entry.get("name") or "").strip()
            delta = entry.get("price_delta", entry.get("delta", 0)) or 0
        else:
            match = re.fullmatch(r"(.+?)\s*\(?\s*([+-])\s*[€$£¥]?\s*(\d+(?:[.,]\d{1,2})?)\s*\)?", str(entry).strip())
            if match:
                name = match.group(1).strip(" :")
                delta = (match.group(2) + match.group(3)).replace(",", ".")
            else:
                name, delta = str(entry).strip(), 0
        try:
            amount = Decimal(str(delta)).quantize(Decimal("0.01"))
        except InvalidOperation as exc:
            raise ValueError(str(entry)) from exc
        if not name or len(name) > 100:
            raise ValueError(str(entry))
        out.append({"name": name, "price_delta": str(amount)})
    return out[:20]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return " ".join(str(value).split())


def parse_catalog(rows: list[dict], row_numbers: list[int] | None = None) -> ParsedCatalog | None:
    """The items of a table, or None when it is not a catalog (see the module docstring)."""
    if not rows:
        return None
    header = list(dict.fromkeys(key for row in rows for key in row))
    if not looks_like_catalog(header):
        return None
    roles = {h: _role(h) for h in header}
    first = {}
    for h, role in roles.items():
        if role and role not in first:
            first[role] = h
    price_header = first["price"]
    header_currency = ""
    found = _CURRENCY_IN.search(price_header)
    if found:
        header_currency = _SYMBOLS.get(found.group(0).lower(), "")
    numbers = row_numbers or list(range(2, len(rows) + 2))
    parsed = ParsedCatalog()
    for number, row in zip(numbers, rows, strict=False):
        if not any(_text(v) for v in row.values()):
            continue
        where = f"Row {number}"
        name = _text(row.get(first["name"]))
        if not name:
            parsed.warnings.append(f"{where}: no name — this row was skipped.")
            continue
        where = f"Row {number} ({name[:40]})"
        currency = _text(row.get(first["currency"])).upper()[:3] if "currency" in first else ""
        try:
            price, found_currency = parse_price(row.get(price_header), currency or header_currency)
        except ValueError:
            parsed.warnings.append(f"{where}: the price '{_text(row.get(price_header))[:30]}' is not a number — "
                                   "this row was skipped.")
            continue
        item = {
            "name": name[:MAX_NAME], "category": _text(row.get(first.get("category")))[:MAX_CATEGORY],
            "description": _text(row.get(first.get("description")))[:2000], "price": price,
            "currency": (currency or found_currency or header_currency)[:3], "allergens": None,
            "allergens_other": [], "dietary": {}, "spice_level": None, "options": [], "available": True,
            "extra": {},
        }
        if "allergens" in first:
            allergens, other = allergens_from_cell(row.get(first["allergens"]))
            item["allergens"], item["allergens_other"] = allergens, other[:20]
        for h, role in roles.items():
            value = row.get(h)
            try:
                if role and role.startswith("dietary:"):
                    flag = _flag(value)
                    if flag is not None:
                        item["dietary"][role.split(":", 1)[1]] = flag
                elif role == "tags":
                    for word in re.split(r"\s*[,;/|、，]\s*", _text(value)):
                        tag = dietary_for_word(word) if word else None
                        if tag in DIETARY_TAGS:
                            item["dietary"][tag] = True
                elif role == "spice" and h == first["spice"]:
                    item["spice_level"] = _spice(value)
                elif role == "options" and h == first["options"]:
                    item["options"] = _options(value)
                elif role == "available" and h == first["available"]:
                    flag = _flag(value)
                    item["available"] = True if flag is None else flag
                elif role == "sold_out" and h == first["sold_out"]:
                    flag = _flag(value)
                    if flag:
                        item["available"] = False
                elif role is None:
                    text = _text(value)
                    if text:
                        item["extra"][str(h)[:50]] = text[:500]
            except ValueError:
                parsed.warnings.append(f"{where}: the {h} value '{_text(value)[:30]}' could not be read and was "
                                       "left out.")
        parsed.items.append(item)
    return parsed
