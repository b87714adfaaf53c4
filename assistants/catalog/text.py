"""A catalog item as one sentence: the retrieval passage of the item (so a free question,
"anything with noodles?", still finds it) and what a generated answer may quote.

Unknown stays unknown: an item without allergen data says "allergens not stated", never
"no allergens".
"""

from __future__ import annotations

from decimal import Decimal

from assistants.catalog.allergens import allergen_label, dietary_label


def price_text(price: Decimal | None, currency: str = "") -> str:
    if price is None:
        return ""
    amount = f"{Decimal(price):.2f}"
    return f"{amount} {currency}".strip() if currency else amount


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def item_sentence(item) -> str:
    """"Dan Dan Noodles (Noodles) cost 11.50 EUR. Spicy Sichuan noodles with pork. Contains gluten
    (wheat), peanut and soy. Not vegetarian. Options: large +2.00." — from a CatalogItem or
    anything with the same attributes."""
    name = item.name.strip()
    head = f"{name} ({item.category})" if item.category else name
    parts = []
    price = price_text(item.price, item.currency)
    parts.append(f"{head} costs {price}." if price else f"{head}.")
    if item.description:
        description = item.description.strip()
        parts.append(description if description.endswith((".", "!", "?", "。")) else description + ".")
    if item.allergens is None:
        parts.append("Allergens not stated.")
    elif not item.allergens and not item.allergens_other:
        parts.append("No listed allergens.")
    else:
        parts.append("Contains " + _join([allergen_label(a) for a in item.allergens]
                                         + list(item.allergens_other)) + ".")
    yes = [dietary_label(tag) for tag, value in (item.dietary or {}).items() if value is True]
    no = [dietary_label(tag) for tag, value in (item.dietary or {}).items() if value is False]
    if yes:
        parts.append(_join(yes).capitalize() + ".")
    if no:
        parts.append("Not " + _join(no).replace(" and ", " or ") + ".")  # "not vegetarian or vegan"
    if item.spice_level is not None:
        parts.append(f"Spice level {item.spice_level} of 5.")
    if item.options:
        options = []
        for option in item.options:
            delta = Decimal(str(option.get("price_delta") or "0"))
            options.append(f"{option.get('name')} +{delta:.2f}" if delta else str(option.get("name")))
        parts.append("Options: " + ", ".join(options) + ".")
    if not item.available:
        parts.append("Currently sold out.")
    names = [str(v) for k, v in (item.extra or {}).items() if v and any("\u3400" <= ch <= "\u9fff" for ch in str(v))
             and len(str(v)) <= 40]
    if names:
        parts.append(" / ".join(names) + "。")
    return " ".join(parts)
