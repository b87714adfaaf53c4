"""The vocabulary of typed catalog values: the 14 EU allergens (Regulation (EU) No 1169/2011,
Annex II) by canonical name, the dietary tags, and the words owners and customers use for them
in English and Chinese.

Unknown is not "none": ``allergens_from_cell`` returns None for a blank cell (the source says
nothing, so an allergen question about the item goes to a person) and [] for an explicit
"none" / "-" / "无".
"""

from __future__ import annotations

import re

# Canonical name -> the words that mean it (lower case; English and Chinese).
ALLERGENS: dict[str, tuple[str, ...]] = {
    "gluten": ("gluten", "wheat", "barley", "rye", "oat", "oats", "spelt", "kamut", "flour", "麸质", "面筋",
               "小麦", "麦"),
    "crustaceans": ("crustacean", "crustaceans", "shellfish", "shrimp", "shrimps", "prawn", "prawns", "crab",
                    "lobster", "甲壳类", "虾", "蟹", "龙虾"),
    "eggs": ("egg", "eggs", "蛋", "鸡蛋"),
    "fish": ("fish", "anchovy", "anchovies", "fish sauce", "鱼", "鱼露"),
    "peanuts": ("peanut", "peanuts", "groundnut", "groundnuts", "花生"),
    "soybeans": ("soy", "soya", "soybean", "soybeans", "soy sauce", "tofu", "大豆", "黄豆", "酱油", "豆腐"),
    "milk": ("milk", "dairy", "lactose", "cheese", "butter", "cream", "yoghurt", "yogurt", "牛奶", "奶",
             "乳制品", "乳"),
    "nuts": ("nuts", "nut", "tree nut", "tree nuts", "almond", "almonds", "hazelnut", "hazelnuts", "walnut",
             "walnuts", "cashew", "cashews", "pecan", "pecans", "pistachio", "pistachios", "macadamia",
             "坚果", "杏仁", "核桃", "腰果"),
    "celery": ("celery", "celeriac", "芹菜"),
    "mustard": ("mustard", "芥末", "芥菜"),
    "sesame": ("sesame", "sesame seeds", "芝麻"),
    "sulphites": ("sulphites", "sulphite", "sulfites", "sulfite", "sulphur dioxide", "sulfur dioxide",
                  "亚硫酸盐"),
    "lupin": ("lupin", "lupine", "羽扇豆"),
    "molluscs": ("mollusc", "molluscs", "mollusk", "mollusks", "squid", "octopus", "mussel", "mussels",
                 "oyster", "oysters", "clam", "clams", "scallop", "scallops", "oyster sauce", "软体动物",
                 "鱿鱼", "章鱼", "蚝", "蚝油", "贝"),
}

ALLERGEN_LABELS_EN = {
    "gluten": "gluten (wheat)", "crustaceans": "crustaceans", "eggs": "eggs", "fish": "fish",
    "peanuts": "peanuts", "soybeans": "soy", "milk": "milk", "nuts": "tree nuts", "celery": "celery",
    "mustard": "mustard", "sesame": "sesame", "sulphites": "sulphites", "lupin": "lupin", "molluscs": "molluscs",
}
ALLERGEN_LABELS_ZH = {
    "gluten": "麸质（小麦）", "crustaceans": "甲壳类", "eggs": "鸡蛋", "fish": "鱼", "peanuts": "花生",
    "soybeans": "大豆", "milk": "牛奶", "nuts": "坚果", "celery": "芹菜", "mustard": "芥末", "sesame": "芝麻",
    "sulphites": "亚硫酸盐", "lupin": "羽扇豆", "molluscs": "软体动物",
}

# The dietary tags a catalog states, true or false; stored in CatalogItem.dietary.
DIETARY_TAGS = ("vegetarian", "vegan", "gluten_free", "dairy_free", "nut_free", "halal", "kosher")
DIETARY_WORDS: dict[str, tuple[str, ...]] = {
    "vegetarian": ("vegetarian", "veggie", "meat-free", "meatless", "素食", "素", "斋"),
    "vegan": ("vegan", "plant-based", "纯素", "全素"),
    "gluten_free": ("gluten-free", "gluten free", "gf", "coeliac", "celiac", "无麸质"),
    "dairy_free": ("dairy-free", "dairy free", "lactose-free", "无乳制品", "无奶"),
    "nut_free": ("nut-free", "nut free", "无坚果"),
    "halal": ("halal", "清真"),
    "kosher": ("kosher", "洁食"),
}
DIETARY_LABELS_EN = {"vegetarian": "vegetarian", "vegan": "vegan", "gluten_free": "gluten-free",
                     "dairy_free": "dairy-free", "nut_free": "nut-free", "halal": "halal", "kosher": "kosher"}
DIETARY_LABELS_ZH = {"vegetarian": "素食", "vegan": "纯素", "gluten_free": "无麸质", "dairy_free": "无乳制品",
                     "nut_free": "无坚果", "halal": "清真", "kosher": "洁食"}

_NONE_WORDS = frozenset({"none", "no", "n/a", "na", "nil", "-", "—", "无", "没有", "0", "nothing"})
_SPLIT = re.compile(r"\s*(?:[,;/|、，；]|\band\b|&|\+)\s*", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")

_WORD_TO_ALLERGEN = {word: name for name, words in ALLERGENS.items() for word in words}


def allergen_for_word(word: str) -> str | None:
    """The canonical allergen a word names ("Peanuts", "花生", "soy sauce"), or None."""
    w = " ".join(word.lower().split())
    if w in ALLERGENS:
        return w
    if w in _WORD_TO_ALLERGEN:
        return _WORD_TO_ALLERGEN[w]
    if w.endswith("s") and w[:-1] in _WORD_TO_ALLERGEN:
        return _WORD_TO_ALLERGEN[w[:-1]]
    if w.startswith("contains "):
        return allergen_for_word(w[len("contains "):])
    return None


def normalise_allergens(values: list[str]) -> tuple[list[str], list[str]]:
    """(canonical allergens in EU order, free-text entries beyond the 14) for a list of words."""
    found: set[str] = set()
    other: list[str] = []
    for value in values:
        value = str(value).strip()
        if not value or value.lower() in _NONE_WORDS:
            continue
        name = allergen_for_word(value)
        if name:
            found.add(name)
        elif value not in other:
            other.append(value)
    return [name for name in ALLERGENS if name in found], other


def allergens_from_cell(cell: str | list | None) -> tuple[list[str] | None, list[str]]:
    """An allergens cell or JSON value → (allergens or None when not stated, free text)."""
    if cell is None:
        return None, []
    if isinstance(cell, list):
        parts = [str(v) for v in cell]
        if not parts:
            return [], []
    else:
        text = str(cell).strip()
        if not text:
            return None, []
        if text.lower() in _NONE_WORDS:
            return [], []
        parts = [p for p in _SPLIT.split(text) if p]
    allergens, other = normalise_allergens(parts)
    return allergens, other


_ALLERGY_NOUN_EN = {"peanuts": "peanut", "eggs": "egg", "nuts": "nut", "gluten": "gluten", "soybeans": "soy",
                    "crustaceans": "shellfish", "molluscs": "mollusc", "sulphites": "sulphite"}


def allergen_label(name: str, language: str = "en", *, allergy: bool = False) -> str:
    """How an answer names an allergen; ``allergy``: as in "a peanut allergy"."""
    if allergy and language != "zh":
        return _ALLERGY_NOUN_EN.get(name, name)
    return (ALLERGEN_LABELS_ZH if language == "zh" else ALLERGEN_LABELS_EN).get(name, name)


def dietary_label(tag: str, language: str = "en") -> str:
    return (DIETARY_LABELS_ZH if language == "zh" else DIETARY_LABELS_EN).get(tag, tag.replace("_", "-"))


def dietary_for_word(word: str) -> str | None:
    """The dietary tag a word or column name names ("Vegetarian", "V", "gluten free", "清真")."""
    w = " ".join(word.lower().replace("_", " ").split())
    if w.replace(" ", "_") in DIETARY_TAGS:
        return w.replace(" ", "_")
    for tag, words in DIETARY_WORDS.items():
        if w in words or w.replace(" ", "-") in words:
            return tag
    return {"v": "vegetarian", "vg": "vegan", "ve": "vegan"}.get(w)


def contains_cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))
