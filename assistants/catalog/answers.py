"""Catalog questions answered by lookup in the typed items (DESIGN.md "Answers: grounded or
handed off"): the values decide, a sentence is composed around them, nothing is guessed.

``catalog_answer(question, items=..., passages=..., language=...)`` returns None when the
question is not about the catalog (the passages answer it), else a ``CatalogAnswer``:

- which item: the item names (and names in other columns, e.g. a Chinese name) found in the
  question, exactly (whole words, plurals folded) or fuzzily (rapidfuzz, word windows of the
  name's length), else the item whose retrieval passage is close in meaning (similarity
  ``CATALOG_MEANING_FLOOR``, clearly ahead of the next item, and sharing a word with it);
- what about it: price (and an option's price: "a large one"), allergens (all, or "does it
  contain peanut?"), dietary tags, availability, or what it is;
- lists ("which dishes are vegetarian?", "dishes without peanuts", "what desserts do you
  have?"): exactly the items that match, by tag, allergen, category or spiciness.

Unknown is never "no": an allergen or dietary question about an item whose source says nothing
gets "I don't know — I'll ask the team" with grounding ``none`` (the conversation goes to a
person); a list by allergen leaves out the items without allergen data and says so. A sold-out
item says so. Answers are in English or Chinese (``language``: "zh" or anything else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from rapidfuzz import fuzz

from assistants.catalog.allergens import (
    ALLERGENS,
    DIETARY_WORDS,
    allergen_label,
    contains_cjk,
    dietary_label,
)
from assistants.catalog.text import price_text

__all__ = ["CatalogAnswer", "catalog_answer", "items_named"]

FUZZY_MIN = 86  # rapidfuzz ratio (0-100) for a name window to count as the item's name
MEANING_GAP = 0.04  # an item found by meaning must be this far ahead of the next item


@dataclass
class CatalogAnswer:
    text: str
    grounding: str  # "catalog", or "none" when the typed data cannot answer (handoff)
    items: list = field(default_factory=list)  # the items the answer rests on


_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")

_PRICE_EN = re.compile(r"\b(?:price|prices|cost|costs|how much|expensive|cheap|pay|charge)\b", re.I)
_PRICE_ZH = ("多少钱", "多少錢", "价格", "價格", "价钱", "價錢", "几块", "幾塊", "多钱", "售价", "费用")
_ALLERGY_EN = re.compile(r"\b(?:allergen|allergens|allergy|allergies|allergic|intolerant|intolerance)\b", re.I)
_ALLERGY_ZH = ("过敏", "過敏", "过敏原")
_CONTAIN_EN = re.compile(r"\b(?:contain|contains|containing|in it|made with|have any|has any|traces?)\b", re.I)
_WITHOUT_EN = re.compile(r"\b(?:without|free|no|not|avoid|allergic|allergy|intolerant|don'?t|doesn'?t|safe)\b",
                         re.I)
_WITHOUT_ZH = ("不含", "没有", "沒有", "无", "無", "不要", "过敏", "過敏", "不能吃")
_AVAILABLE_EN = re.compile(r"\b(?:available|sold out|in stock|still have|any left|run out|today)\b", re.I)
_AVAILABLE_ZH = ("售罄", "卖完", "賣完", "还有", "還有", "有货", "有貨")
_HAVE_EN = re.compile(r"\b(?:do you (?:have|serve|sell|make|do)|is there|are there|can i (?:get|order|have)|"
                      r"what is|what's|what are|tell me about|describe)\b", re.I)
_HAVE_ZH = ("有没有", "有沒有", "是什么", "是什麼", "介绍", "介紹", "有吗", "有嗎")
_LIST_EN = re.compile(r"\b(?:which|what|list|any|anything|options?|choices?|dishes|items|meals|food|menu)\b", re.I)
_LIST_ZH = ("哪些", "哪几", "哪幾", "什么菜", "什麼菜", "有什么", "有什麼", "菜单", "菜單", "推荐", "推薦")
_DISHES_EN = re.compile(r"\b(?:dish|dishes|items?|meals?|food|options?|choices?|menu|things|something|anything|"
                        r"starters?|mains?|desserts?|drinks?|products?)\b", re.I)
_SPICY_EN = re.compile(r"\b(?:spicy|hot|spice|chilli|chili|mild)\b", re.I)
_SPICY_ZH = ("辣",)
_OPTIONS_EN = re.compile(r"\b(?:size|sizes|option|options|variant|variants|portion|portions|pieces|large|small|"
                         r"medium|half|full|extra)\b", re.I)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> list[str]:
    return [_singular(w) for w in _WORD.findall(text.lower().replace("'", ""))]


def _item_names(item) -> list[str]:
    names = [item.name]
    for value in (item.extra or {}).values():
        if isinstance(value, str) and 0 < len(value) <= 60 and contains_cjk(value):
            names.append(value)
    return names


def _find_in(sequence: list[str], sub: list[str]) -> bool:
    n = len(sub)
    return n > 0 and any(sequence[i:i + n] == sub for i in range(len(sequence) - n + 1))


def _named_items(question: str, items: list, *, exact_only: bool = False) -> list:
    """Items whose name is in the question: exactly, then fuzzily; a name inside a longer
    matched name ("rice" in "egg fried rice") does not count on its own."""
    q_tokens = _tokens(question)
    exact: list[tuple[int, object]] = []
    for item in items:
        for name in _item_names(item):
            if contains_cjk(name):
                if name in question:
                    exact.append((len(name) * 3, item))
                    break
            else:
                tokens = _tokens(name)
                if _find_in(q_tokens, tokens):
                    exact.append((len(" ".join(tokens)), item))
                    break
    if not exact and exact_only:
        return []
    if not exact:
        scored = []
        for item in items:
            tokens = _tokens(item.name)
            joined = " ".join(tokens)
            if len(joined) < 5:
                continue
            best = 0.0
            for width in {max(1, len(tokens) - 1), len(tokens), len(tokens) + 1}:
                for i in range(max(0, len(q_tokens) - width + 1)):
                    best = max(best, fuzz.ratio(joined, " ".join(q_tokens[i:i + width])))
            if best >= FUZZY_MIN:
                scored.append((best, item))
        if scored:
            top = max(score for score, _ in scored)
            return [item for score, item in scored if score >= top - 2]
        return _by_head_noun(q_tokens, items)
    exact.sort(key=lambda pair: -pair[0])
    chosen: list = []
    for _, item in exact:
        names = [n.lower() for n in _item_names(item)]
        if any(any(n in other.lower() for other in _item_names(c) for n in names) for c in chosen):
            continue
        chosen.append(item)
    return chosen


def items_named(text: str, items: list) -> list:
    """The items ``text`` names, matched as a customer's question names them (exactly, then
    fuzzily, then by the name's last words): the owner's "sold out mapo tofu" finds the item
    the customers' "is the mapo tofu sold out?" finds. More than one: ``text`` is ambiguous."""
    return _named_items(text, items)


def _by_head_noun(q_tokens: list[str], items: list) -> list:
    """"the fried rice" → "Egg fried rice": the items whose name ends in the longest run of
    the question's words (at most three items; a short or generic word alone does not count)."""
    best, found = 0, []
    for item in items:
        tokens = _tokens(re.sub(r"\([^)]*\)", " ", item.name))  # "(vegetarian)" qualifies, it is not the dish
        for length in range(len(tokens) - 1, 0, -1):
            tail = tokens[-length:]
            if len("".join(tail)) >= 4 and tail[-1] not in _GENERIC and _find_in(q_tokens, tail):
                if length > best:
                    best, found = length, [item]
                elif length == best:
                    found.append(item)
                break
    return found if len(found) <= 3 else []


_GENERIC = frozenset(_tokens("dish dishes menu special plate set combo meal item food drink"))


def _meant_item(question: str, items: list, passages: list, floor: float):
    """The item the question means, by its passage's similarity (see the module docstring)."""
    by_id = {str(item.pk): item for item in items}
    ranked = sorted(((p.similarity or 0.0, by_id[p.catalog_item_id]) for p in passages
                     if p.catalog_item_id in by_id), key=lambda pair: -pair[0])
    if not ranked or ranked[0][0] < floor:
        return None
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < MEANING_GAP:
        return None
    item = ranked[0][1]
    words = set(_tokens(f"{item.name} {item.category} {item.description}")) - _INTENT_WORDS
    return item if words & set(_tokens(question)) else None


_INTENT_WORDS = frozenset(_tokens(
    "price cost how much allergen allergy contain dish item menu vegetarian vegan gluten free the a an is are do you "
    "have it they what which with and of in for on to your our can i eat does any"))


def _allergens_asked(question: str) -> list[str]:
    lowered = " " + " ".join(_tokens(question)) + " "
    found = []
    for name, words in ALLERGENS.items():
        for word in words:
            if contains_cjk(word):
                hit = word in question
            else:
                hit = f" {' '.join(_tokens(word))} " in lowered
            if hit:
                found.append(name)
                break
    if "gluten" in found and re.search(r"gluten[- ]free|无麸质|無麩質", question, re.I):
        found.remove("gluten")  # "gluten-free" is a dietary tag question
    if "nuts" in found and "peanuts" not in found:
        found.append("peanuts")  # "a nut allergy": peanuts count too, to be safe
    return [name for name in ALLERGENS if name in found]


def _tags_asked(question: str) -> list[str]:
    lowered = question.lower()
    found = []
    for tag, words in DIETARY_WORDS.items():
        for word in words:
            if contains_cjk(word):
                hit = word in question
            elif len(word) <= 2:
                hit = False  # "gf", "v": a column's shorthand, not a customer's word
            else:
                hit = re.search(rf"\b{re.escape(word)}\b", lowered) is not None
            if hit:
                found.append(tag)
                break
    if "vegan" in found and "vegetarian" in found and not re.search(r"\bvegetarian\b|素食", question, re.I):
        found.remove("vegetarian")
    if "vegan" in found and "vegetarian" in found and "纯素" in question:
        found.remove("vegetarian")
    return found


def _categories_asked(question: str, items: list) -> list[str]:
    q_tokens = _tokens(question)
    out = []
    for category in dict.fromkeys(item.category for item in items if item.category):
        tokens = _tokens(category)
        if (contains_cjk(category) and category in question) or (tokens and _find_in(q_tokens, tokens)):
            out.append(category)
    return out


def _has_any(text: str, words) -> bool:
    return any(word in text for word in words)


# --------------------------------------------------------------------------- composing


def _name(item, zh: bool) -> str:
    if zh:
        for value in (item.extra or {}).values():
            if isinstance(value, str) and contains_cjk(value) and len(value) <= 60:
                return value
    return item.name


def _plural(item) -> bool:
    last = item.name.strip().split()[-1].lower() if item.name.strip() else ""
    return last.endswith("s") and not last.endswith(("ss", "us"))


def _the(item) -> str:
    """"the Dan dan noodles": the item as the subject of an English sentence."""
    return f"the {item.name}"


def _verb(item, singular: str, plural: str) -> str:
    return plural if _plural(item) else singular


def _price(item, delta: Decimal = Decimal(0)) -> str:
    return price_text(item.price + delta, item.currency) if item.price is not None else ""


def _join(words: list[str], zh: bool) -> str:
    if zh:
        return "、".join(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _dont_know(subject: str, zh: bool) -> CatalogAnswer:
    text = (f"我不确定{subject}，我会请团队确认后回复您。" if zh
            else f"I don't have {subject} — I'll ask the team to confirm for you.")
    return CatalogAnswer(text, "none")


def _sold_out(item, zh: bool) -> str:
    return f"{_name(item, zh)}目前已售罄。" if zh else f"{item.name} {_verb(item, 'is', 'are')} sold out at the moment."


def _option_asked(question: str, item):
    """The option the question names: by the words that set it apart from the other options
    ("625Wh" of "battery 500Wh" / "battery 625Wh"); None when it names none or several."""
    options = item.options or []
    q_tokens = set(_tokens(question))
    token_sets = [set(_tokens(str(o.get("name", "")))) for o in options]
    shared = set.intersection(*token_sets) if len(token_sets) > 1 else set()
    scored = []
    for option, tokens in zip(options, token_sets, strict=True):
        name = str(option.get("name", ""))
        hits = len((tokens - shared) & q_tokens) + (3 if contains_cjk(name) and name in question else 0)
        if hits:
            scored.append((hits, option))
    if not scored:
        return None
    scored.sort(key=lambda pair: -pair[0])
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None
    return scored[0][1]


def _price_sentence(item, question: str, zh: bool, asked_options: bool) -> CatalogAnswer:
    name = _name(item, zh)
    if item.price is None:
        return _dont_know(f"{name}的价格" if zh else f"a price for the {item.name}", zh)
    option = _option_asked(question, item)
    cost = _verb(item, "costs", "cost")
    if option is not None:
        delta = Decimal(str(option.get("price_delta") or "0"))
        total = _price(item, delta)
        extra = price_text(delta, item.currency) if delta else ""
        if zh:
            text = f"{name}（{option.get('name')}）的价格是{total}" + (f"，加{extra}" if extra else "") + "。"
        else:
            text = (f"The {item.name} ({option.get('name')}) {cost} {total}"
                    + (f", {extra} extra" if extra else "") + ".")
        return CatalogAnswer(text, "catalog", [item])
    if item.options:
        parts = [f"{o.get('name')} {_price(item, Decimal(str(o.get('price_delta') or '0')))}" for o in item.options]
        text = (f"{name}的价格是{_price(item)}（{'，'.join(parts)}）。" if zh
                else f"The {item.name} {cost} {_price(item)} ({', '.join(parts)}).")
    else:
        text = f"{name}的价格是{_price(item)}。" if zh else f"The {item.name} {cost} {_price(item)}."
    return CatalogAnswer(text, "catalog", [item])


def _allergen_sentence(item, asked: list[str], zh: bool) -> CatalogAnswer:
    name = _name(item, zh)
    if item.allergens is None:
        return _dont_know(f"{name}的过敏原" if zh else f"allergen information for the {item.name}", zh)
    labels = [allergen_label(a, "zh" if zh else "en") for a in item.allergens] + list(item.allergens_other or [])
    if not asked:
        if not labels:
            text = (f"{name}没有列出任何过敏原。" if zh
                    else f"The {item.name} {_verb(item, 'has', 'have')} no listed allergens.")
        else:
            text = (f"{name}含有{_join(labels, zh)}。" if zh
                    else f"The {item.name} {_verb(item, 'contains', 'contain')} {_join(labels, zh)}.")
        return CatalogAnswer(text, "catalog", [item])
    present = [a for a in asked if a in item.allergens]
    if present:
        words = _join([allergen_label(a, "zh" if zh else "en") for a in present], zh)
        if zh:
            return CatalogAnswer(f"是的，{name}含有{words}，对{words}过敏的人不适合食用。", "catalog", [item])
        allergy = _join([allergen_label(a, allergy=True) for a in present], zh).replace(" and ", " or ")
        return CatalogAnswer(f"Yes, the {item.name} {_verb(item, 'contains', 'contain')} {words}, so "
                             f"{_verb(item, 'it is', 'they are')} not suitable for a {allergy} allergy.",
                             "catalog", [item])
    words = _join([allergen_label(a, "zh" if zh else "en") for a in asked], zh)
    rest = f"（它含有{_join(labels, zh)}）" if zh and labels else ""
    if zh:
        return CatalogAnswer(f"不，根据我们的过敏原信息，{name}不含{words}{rest}。", "catalog", [item])
    rest = f" ({_verb(item, 'it contains', 'they contain')} {_join(labels, zh)})" if labels else ""
    return CatalogAnswer(f"No, according to our allergen information the {item.name} "
                         f"{_verb(item, 'does', 'do')} not contain {words}{rest}.", "catalog", [item])


_DERIVED = {"gluten_free": ("gluten",), "dairy_free": ("milk",), "nut_free": ("nuts", "peanuts")}


def _tag_value(item, tag: str) -> bool | None:
    """The tag as stated, or as the stated tags and allergens imply; None when unknown."""
    dietary = item.dietary or {}
    value = dietary.get(tag)
    if value is not None:
        return bool(value)
    if tag == "vegetarian" and dietary.get("vegan") is True:
        return True
    if tag == "vegan" and dietary.get("vegetarian") is False:
        return False
    derived = _DERIVED.get(tag)
    if derived and item.allergens is not None:
        return not any(a in item.allergens for a in derived)
    return None


def _tag_sentence(item, tags: list[str], zh: bool) -> CatalogAnswer:
    name = _name(item, zh)
    sentences = []
    for tag in tags:
        label = dietary_label(tag, "zh" if zh else "en")
        value = _tag_value(item, tag)
        if value is None:
            return _dont_know(f"{name}是否{label}" if zh else f"{label} information for the {item.name}", zh)
        stated = (item.dietary or {}).get(tag) is not None or tag in ("vegetarian", "vegan")
        be = _verb(item, "is", "are")
        if zh:
            sentences.append(f"是的，{name}是{label}。" if value else f"不，{name}不是{label}。")
        elif not stated:  # from the allergens: say so
            allergen_words = _join([allergen_label(a) for a in _DERIVED[tag]], False).replace(" and ", " or ")
            sentences.append(f"According to our allergen information, the {item.name} "
                             f"{_verb(item, 'does', 'do')} not contain {allergen_words}." if value
                             else f"No, the {item.name} {be} not {label}.")
        else:
            sentences.append(f"Yes, the {item.name} {be} {label}." if value
                             else f"No, the {item.name} {be} not {label}.")
    return CatalogAnswer(("" if zh else " ").join(sentences), "catalog", [item])


_FILLER = frozenset(_tokens(
    "do you have serve sell make is there are can i get order tell me about what whats what's describe please "
    "any some one still today a an the it this that your our we us my in on of"))


def _spice_sentence(item, zh: bool) -> CatalogAnswer:
    name = _name(item, zh)
    level = item.spice_level
    if level is None:
        return _dont_know(f"{name}的辣度" if zh else f"how spicy the {item.name} {_verb(item, 'is', 'are')}", zh)
    be = _verb(item, "is", "are")
    if level == 0:
        return CatalogAnswer(f"{name}不辣。" if zh else f"No, the {item.name} {be} not spicy.", "catalog", [item])
    return CatalogAnswer(f"{name}是辣的（辣度{level}/5）。" if zh
                         else f"Yes, the {item.name} {be} spicy ({level} of 5).", "catalog", [item])


def _describe(item, zh: bool) -> CatalogAnswer:
    name = _name(item, zh)
    price = _price(item)
    if zh:
        text = f"{name}的价格是{price}。" if price else f"我们有{name}。"
    else:
        text = f"Yes, we have the {item.name}" + (f", it costs {price}." if price else ".")
    if item.description and not zh:
        description = item.description.strip()
        text += " " + description[0].upper() + description[1:] + ("" if description.endswith(".") else ".")
    return CatalogAnswer(text, "catalog", [item])


def _item_answer(question: str, item, zh: bool) -> CatalogAnswer | None:
    asked_allergens = _allergens_asked(question)
    # The allergens in the item's own name ("prawn crackers" names prawn) are not asked about.
    own = {a for a in asked_allergens if any(w in item.name.lower() for w in ALLERGENS[a])}
    asked_allergens = [a for a in asked_allergens if a not in own]
    tags = _tags_asked(question)
    allergy = bool(_ALLERGY_EN.search(question)) or _has_any(question, _ALLERGY_ZH)
    price = bool(_PRICE_EN.search(question)) or _has_any(question, _PRICE_ZH)
    options = bool(_OPTIONS_EN.search(question)) or _option_asked(question, item) is not None
    contains = bool(_CONTAIN_EN.search(question)) or "含" in question
    availability = bool(_AVAILABLE_EN.search(question)) or _has_any(question, _AVAILABLE_ZH)
    # The item's own name does not ask ("hot and sour soup", "chilli oil").
    unnamed = re.sub(re.escape(item.name), " ", question, flags=re.I)
    for value in (item.extra or {}).values():
        if isinstance(value, str) and value:
            unnamed = unnamed.replace(value, " ")
    spicy = bool(re.search(r"\b(?:spicy|hot|spice|chilli|chili|mild)\b", unnamed, re.I)) or "辣" in unnamed
    parts: list[CatalogAnswer] = []
    if spicy:
        parts.append(_spice_sentence(item, zh))
    if price or (options and item.options):
        parts.append(_price_sentence(item, question, zh, options))
    if allergy or asked_allergens or (contains and not tags):
        parts.append(_allergen_sentence(item, asked_allergens, zh))
    if tags:
        parts.append(_tag_sentence(item, tags, zh))
    if not parts:
        # "Can I get the mapo tofu without pork?" asks something the typed values do not hold.
        leftover = set(_tokens(question)) - set(_tokens(f"{item.name} {item.category}")) - _INTENT_WORDS - _FILLER
        if not availability and (leftover or re.search(r"\b(?:without|instead|extra|less|more|no)\b", question,
                                                         re.I)):
            return None
        if availability or _HAVE_EN.search(question) or _has_any(question, _HAVE_ZH) or len(_tokens(question)) <= 6:
            if not item.available:
                text = "抱歉，" + _sold_out(item, zh) if zh else f"Sorry, the {_sold_out(item, zh)}"
                return CatalogAnswer(text, "catalog", [item])
            if availability:
                text = (f"有的，{_name(item, zh)}现在有供应。" if zh
                        else f"Yes, the {item.name} {_verb(item, 'is', 'are')} available.")
                return CatalogAnswer(text, "catalog", [item])
            return _describe(item, zh)
        return None
    if any(p.grounding == "none" for p in parts):
        return next(p for p in parts if p.grounding == "none")
    texts = [parts[0].text] + [_drop_yes(p.text) for p in parts[1:]]
    text = ("" if zh else " ").join(texts)
    if not item.available:
        text += ("" if zh else " ") + _sold_out(item, zh)
    return CatalogAnswer(text, "catalog", [item])


def _drop_yes(text: str) -> str:
    """A second sentence of a combined answer drops its "Yes, " ("... cost 11.50. The ... contain")."""
    for prefix in ("Yes, the ", "是的，"):
        if text.startswith(prefix):
            rest = text[len(prefix):]
            return ("The " + rest) if prefix.startswith("Yes") else rest
    return text


def _list_answer(question: str, items: list, zh: bool) -> CatalogAnswer | None:
    tags = _tags_asked(question)
    asked_allergens = _allergens_asked(question)
    categories = _categories_asked(question, items)
    spicy = bool(_SPICY_EN.search(question)) or _has_any(question, _SPICY_ZH)
    if not (tags or asked_allergens or categories or spicy):
        return None
    without = bool(_WITHOUT_EN.search(question)) or _has_any(question, _WITHOUT_ZH)
    chosen, unknown = [], []
    for item in items:
        if categories and item.category not in categories:
            continue
        if tags:
            values = [_tag_value(item, tag) for tag in tags]
            if any(v is None for v in values) and not any(v is False for v in values):
                unknown.append(item)
                continue
            if not all(values):
                continue
        if asked_allergens:
            if item.allergens is None:
                unknown.append(item)
                continue
            has = any(a in item.allergens for a in asked_allergens)
            if has == without:
                continue
        if spicy and not (item.spice_level or 0) > 0:
            if item.spice_level is None and not re.search(r"spicy|chilli|chili|辣", f"{item.name} "
                                                          f"{item.description}", re.I):
                continue
            if item.spice_level == 0:
                continue
        chosen.append(item)
    what = []
    if tags:
        what.append(_join([dietary_label(t, "zh" if zh else "en") for t in tags], zh))
    if categories:
        what.append(_join(categories, zh))
    if spicy:
        what.append("辣的" if zh else "spicy")
    label = " ".join(what) if not zh else "".join(what)
    if asked_allergens:
        allergen_words = _join([allergen_label(a, "zh" if zh else "en") for a in asked_allergens], zh)
        suffix_en = f" {'without' if without else 'with'} {allergen_words}"
        suffix_zh = f"{'不含' if without else '含有'}{allergen_words}的"
    else:
        suffix_en = suffix_zh = ""

    def entry(item) -> str:
        price = _price(item)
        name = _name(item, zh)
        bits = [price] if price else []
        if not item.available:
            bits.append("售罄" if zh else "sold out")
        if zh:
            return name + (f"（{'，'.join(bits)}）" if bits else "")
        return name + (f" ({', '.join(bits)})" if bits else "")

    if unknown and not chosen and len(unknown) == len([i for i in items
                                                       if not categories or i.category in categories]):
        # Nothing states it for any item: that is not "none of them", it is "we don't know".
        subject = f"{suffix_zh}{label}" if zh else f"{label}{suffix_en}".strip()
        return _dont_know(f"{subject}的信息" if zh else f"{subject} information for our dishes", zh)
    others = len(unknown)
    if zh:
        subject = f"{suffix_zh}{label}菜品" if (label or suffix_zh) else "菜品"
        text = (f"我们{subject}有：{_join([entry(i) for i in chosen], zh)}。" if chosen
                else f"我们的菜单上没有标明为{subject}的菜。")
        if others:
            text += f"另有{others}道菜我们没有相关信息，点餐前请向工作人员确认。"
    else:
        kind = "dishes"
        if categories:
            kind, label = _join([c.lower() for c in categories], False), " ".join(what[:1]) if tags else ""
            if spicy:
                label = (label + " spicy").strip()
        subject = f"{label + ' ' if label else ''}{kind}{suffix_en}"
        text = (f"Our {subject}: {_join([entry(i) for i in chosen], zh)}." if chosen
                else f"None of our {kind} is listed as {label or 'matching'}{suffix_en}.")
        if others:
            text += (f" For {others} other {'dish' if others == 1 else 'dishes'} we don't have this information — "
                     "please ask the team before ordering.")
    return CatalogAnswer(text, "catalog", chosen)


_CAN_EAT = re.compile(r"\bwhat (?:can|could|should) (?:i|we|my \w+) (?:eat|have|order|get)\b|\bsafe for\b|"
                      r"\bwhat do you recommend\b|\bsuitable for\b", re.I)


def _is_list_question(question: str, items: list = ()) -> bool:
    if _has_any(question, _LIST_ZH) or _CAN_EAT.search(question) or "能吃什么" in question:
        return True
    if items and (_LIST_EN.search(question) or _HAVE_EN.search(question)) and _categories_asked(question, items):
        return True
    return bool(_LIST_EN.search(question) and _DISHES_EN.search(question)) or bool(
        re.search(r"\b(?:which|what)\b.*\b(?:are|is)\b.*\b(?:vegetarian|vegan|gluten|halal|spicy)\b", question, re.I))


def catalog_answer(question: str, *, items: list, passages: list, language: str,
                   meaning_floor: float = 0.55) -> CatalogAnswer | None:
    """The composed answer to a catalog question, or None (see the module docstring)."""
    if not items:
        return None
    zh = language == "zh" or contains_cjk(question)
    listing = _is_list_question(question, items)
    named = _named_items(question, items, exact_only=listing)
    if not named and not listing:
        meant = _meant_item(question, items, passages, meaning_floor)
        named = [meant] if meant is not None else []
    if len(named) == 1:
        return _item_answer(question, named[0], zh)
    if len(named) > 1 and not listing:
        answers = [_item_answer(question, item, zh) for item in named[:3]]
        if all(a is not None for a in answers):
            for a in answers:
                if a.grounding == "none":
                    return a
            return CatalogAnswer(("" if zh else " ").join(a.text for a in answers), "catalog", named[:3])
        return None
    if listing:
        return _list_answer(question, items, zh)
    return None
