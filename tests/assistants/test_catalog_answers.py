"""Catalog questions answered by lookup in the typed items: the values decide, unknown is never
"no", lists are exact. Pure functions over unsaved items (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistants.catalog.answers import catalog_answer
from assistants.models import CatalogItem


def _item(name, price, allergens, dietary=None, **fields) -> CatalogItem:
    return CatalogItem(name=name, price=Decimal(price) if price else None, allergens=allergens,
                       dietary=dietary or {}, **fields)


ITEMS = [
    _item("Mapo tofu", "12.50", ["soybeans", "sesame"], {"vegetarian": False}, category="Mains", spice_level=3,
          extra={"中文名": "麻婆豆腐"}),
    _item("Kung Pao chicken", "14.00", ["peanuts", "soybeans"], {"vegetarian": False}, category="Mains",
          extra={"中文名": "宫保鸡丁"}),
    _item("Dan dan noodles", "11.50", ["gluten", "peanuts", "soybeans"], {"vegetarian": False}, category="Noodles",
          spice_level=3, options=[{"name": "regular", "price_delta": "0.00"}, {"name": "large", "price_delta": "2.00"}],
          extra={"中文名": "担担面"}),
    _item("Dry-fried green beans", "9.50", ["soybeans"], {"vegetarian": True, "vegan": True}, category="Mains",
          spice_level=1),
    _item("Steamed jasmine rice", "3.00", None, {"vegan": True}, category="Sides", extra={"中文名": "米饭"}),
    _item("Mango pudding", "6.50", ["milk"], {"vegetarian": True, "vegan": False}, category="Desserts",
          available=False, extra={"中文名": "芒果布丁"}),
    _item("Egg fried rice", "7.00", ["eggs", "soybeans"], {"vegetarian": True}, category="Sides"),
]


def ask(question: str):
    return catalog_answer(question, items=ITEMS, passages=[], language="en")


@pytest.mark.parametrize(("question", "expected"), [
    ("How much are the dan dan noodles?", "The Dan dan noodles cost 11.50 (regular 11.50, large 13.50)."),
    ("How much is a large dan dan noodles?", "The Dan dan noodles (large) cost 13.50, 2.00 extra."),
    ("dandan noodle price", "The Dan dan noodles cost 11.50 (regular 11.50, large 13.50)."),  # fuzzy
    ("How much is the fried rice?", "The Egg fried rice costs 7.00."),  # by the end of its name
    ("Do the dan dan noodles contain peanuts?",
     "Yes, the Dan dan noodles contain peanuts, so they are not suitable for a peanut allergy."),
    ("Does the mapo tofu contain peanuts?", "No, according to our allergen information the Mapo tofu does not "
                                            "contain peanuts (it contains soy and sesame)."),
    ("What allergens are in the mapo tofu?", "The Mapo tofu contains soy and sesame."),
    ("Is the mapo tofu vegetarian?", "No, the Mapo tofu is not vegetarian."),
    ("Is the steamed jasmine rice vegetarian?", "Yes, the Steamed jasmine rice is vegetarian."),  # vegan says so
    ("Do you have mango pudding?", "Sorry, the Mango pudding is sold out at the moment."),
    ("Which dishes are vegetarian?", "Our vegetarian dishes: Dry-fried green beans (9.50), Steamed jasmine rice "
                                     "(3.00), Mango pudding (6.50, sold out) and Egg fried rice (7.00)."),
    ("What desserts do you have?", "Our desserts: Mango pudding (6.50, sold out)."),
    ("Any spicy dishes?", "Our spicy dishes: Mapo tofu (12.50), Dan dan noodles (11.50) and Dry-fried green beans "
                          "(9.50)."),
    ("担担面多少钱？", "担担面的价格是11.50（regular 11.50，large 13.50）。"),
    ("宫保鸡丁含有花生吗？", "是的，宫保鸡丁含有花生，对花生过敏的人不适合食用。"),
])
def test_composed_answers(question, expected):
    answer = ask(question)
    assert answer is not None and answer.grounding == "catalog"
    assert answer.text == expected


def test_a_list_by_allergen_is_exact_and_leaves_out_what_is_unknown():
    answer = ask("Which dishes are without peanuts?")
    assert answer.text == ("Our dishes without peanuts: Mapo tofu (12.50), Dry-fried green beans (9.50), Mango "
                           "pudding (6.50, sold out) and Egg fried rice (7.00). For 1 other dish we don't have this "
                           "information — please ask the team before ordering.")
    assert "rice (3.00)" not in answer.text  # the rice states no allergens: never listed as safe
    assert ask("I have a peanut allergy, what can I eat?").text == answer.text


@pytest.mark.parametrize("question", [
    "Does the steamed jasmine rice contain gluten?",  # no allergen data
    "Is the egg fried rice halal?",  # halal never stated
    "Do you have halal dishes?",  # stated for no dish: "we don't know", not "none"
])
def test_unknown_is_handed_to_a_person_never_guessed(question):
    answer = ask(question)
    assert answer.grounding == "none" and "ask the team" in answer.text


@pytest.mark.parametrize("question", [
    "How much is the lobster?", "Do you have a kids menu?", "Can I bring my dog?", "What time do you open?",
])
def test_questions_that_are_not_about_the_catalog_are_left_to_the_passages(question):
    assert ask(question) is None
