"""A test knowledge base for grounded answers (issue 17): three businesses and the questions a
customer asks them, each with what a correct answer must say, what it must never say, and what
it may rest on (DESIGN.md "Answers: grounded or handed off").

- ``BUSINESSES``: a Sichuan restaurant (menu CSV, English and Chinese prose, FAQ), a dental
  clinic (prose and FAQ, no catalog) and a bike shop (product CSV, prose, FAQ), each with
  structured ``business_hours`` and dated ``hours_exceptions``.
- ``QUESTIONS``: answerable ones (``Expect.answer``: every ``must_contain`` group matches, no
  ``must_not_contain`` string appears, the grounding is one of ``grounding``) and unanswerable
  ones (``Expect.handoff``: the answer is the handoff, grounding "none").

Strings are compared case-insensitively after collapsing whitespace (``normalise``). Every
expected value is copied from the knowledge below; keep them in step when you edit it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CATALOG = frozenset({"catalog"})
HOURS = frozenset({"hours"})
PASSAGES = frozenset({"passages"})


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip().casefold()


@dataclass(frozen=True)
class Expect:
    kind: str  # "answer" or "handoff"
    must_contain: tuple[tuple[str, ...], ...] = ()
    must_not_contain: tuple[str, ...] = ()
    grounding: frozenset[str] = frozenset()

    @classmethod
    def answer(cls, must_contain, grounding, must_not_contain=()) -> Expect:
        groups = tuple((g,) if isinstance(g, str) else tuple(g) for g in must_contain)
        return cls("answer", groups, tuple(must_not_contain), frozenset(grounding))

    @classmethod
    def handoff(cls, must_not_contain=()) -> Expect:
        return cls("handoff", (), tuple(must_not_contain), frozenset({"none"}))


@dataclass(frozen=True)
class Question:
    business: str
    text: str
    expect: Expect
    # What the question exercises: price, option, allergen, diet, list, sold_out, hours, faq,
    # passage, unanswerable, zh (a question in Chinese).
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Business:
    key: str
    name: str
    timezone: str
    language: str
    business_hours: dict
    hours_exceptions: list
    handoff_message: str
    texts: list[tuple[str, str]]  # (title, text)
    faqs: list[tuple[str, str]]  # (question, answer)
    catalog_csv: str = ""  # uploaded as a file source "catalog.csv"
    sold_out: tuple[str, ...] = ()  # item names marked available=False after ingestion


def _christmas_and_new_year(*, eve_hours: list[list[str]]) -> list[dict]:
    # Two years, so the questions keep their answers whichever December comes next.
    out = []
    for year in (2026, 2027):
        out.append({"date": f"{year}-12-25", "closed": True, "note": "Christmas"})
        out.append({"date": f"{year}-12-31", "hours": eve_hours, "note": "New Year's Eve"})
    return out


# --------------------------------------------------------------------------- Red Lantern (restaurant)

RESTAURANT_MENU = "\n".join([
    "name,category,price,allergens,vegetarian,vegan,description,中文名,options",
    "Dan dan noodles,Noodles,11.50,wheat; peanuts; soy; sesame,no,no,Spicy Sichuan noodles with minced pork and chilli oil,担担面,small +0; large +2.50",  # noqa: E501
    "Kung Pao chicken,Mains,14.50,peanuts; soy; wheat,no,no,Chicken wok-fried with roasted peanuts and dried chillies,宫保鸡丁,regular +0; large +3.00",  # noqa: E501
    "Mapo tofu,Mains,13.00,soy,no,no,Silken tofu in a chilli bean sauce with minced beef,麻婆豆腐,",
    "Twice-cooked pork,Mains,15.00,soy; wheat; celery,no,no,Pork belly simmered then stir-fried with leeks and bean paste,回锅肉,",  # noqa: E501
    "Boiled fish in chilli oil,Mains,18.50,fish; soy,no,no,Sea bass slices poached in a broth of chilli oil and Sichuan pepper,水煮鱼,",  # noqa: E501
    "Sichuan hot pot for two,Hot pot,38.00,,no,no,Beef tallow broth with sliced beef and vegetables to cook at the table,麻辣火锅,mild +0; extra spicy +0",  # noqa: E501
    "Dry-fried green beans,Vegetables,9.50,soy,yes,yes,Green beans blistered in the wok with garlic and chilli,干煸四季豆,",  # noqa: E501
    "Fish-fragrant aubergine,Vegetables,10.50,soy; wheat,yes,yes,Aubergine in a sweet and sour garlic sauce (no fish),鱼香茄子,",  # noqa: E501
    "Smashed cucumber salad,Cold dishes,6.50,sesame; soy,yes,yes,Cucumber with black vinegar and sesame oil,拍黄瓜,",
    "Egg fried rice,Rice,5.50,eggs; soy,yes,no,Wok-fried rice with egg and spring onion,蛋炒饭,small +0; large +2.00",
    "Steamed rice,Rice,2.50,none,yes,yes,A bowl of jasmine rice,米饭,",
    "Mango pudding,Desserts,6.00,milk,yes,no,Chilled mango pudding with evaporated milk,芒果布丁,",
    "Sesame balls,Desserts,5.00,sesame; wheat,yes,yes,Glutinous rice balls with black sesame filling,芝麻球,",
    "",
])

R_VEGETARIAN = ("Dry-fried green beans", "Fish-fragrant aubergine", "Smashed cucumber salad", "Egg fried rice",
                "Steamed rice", "Mango pudding", "Sesame balls")
R_MEAT = ("Dan dan noodles", "Kung Pao chicken", "Mapo tofu", "Twice-cooked pork", "Boiled fish",
          "Sichuan hot pot")
R_VEGAN = ("Dry-fried green beans", "Fish-fragrant aubergine", "Smashed cucumber salad", "Steamed rice",
           "Sesame balls")
R_ZH = {
    "Dry-fried green beans": "干煸四季豆",
    "Fish-fragrant aubergine": "鱼香茄子",
    "Smashed cucumber salad": "拍黄瓜",
    "Egg fried rice": "蛋炒饭",
    "Steamed rice": "米饭",
    "Mango pudding": "芒果布丁",
    "Sesame balls": "芝麻球",
    "Dan dan noodles": "担担面",
    "Kung Pao chicken": "宫保鸡丁",
    "Mapo tofu": "麻婆豆腐",
    "Twice-cooked pork": "回锅肉",
    "Boiled fish": "水煮鱼",
    "Sichuan hot pot": "麻辣火锅",
}

RESTAURANT_ABOUT = """# About Red Lantern
Red Lantern is a family-run Sichuan restaurant on Canal Street 12, opened in 2009 by chef Li Wei.
We cook with Sichuan pepper and chillies brought from Chengdu.
Fresh flowers are on every table, and the dining room seats 60 guests.

# Reservations
Tables can be reserved by phone at +31 20 555 0142 or on our website. We hold a reserved table for 15 minutes.
For groups of more than ten guests we ask for a deposit of 10 euros per person.

# Private room
Our private room upstairs seats up to 20 guests and can be booked for birthdays and company dinners.
"""

RESTAURANT_ZH = """# 关于红灯笼
红灯笼是一家家庭经营的川菜馆，位于运河街12号。

# 外卖与自取
我们不提供外卖送餐服务。您可以打电话点餐，然后到店自取，自取订单九五折。

# 辣度
每道菜都可以做成微辣、中辣或特辣，点餐时请告诉服务员。
"""

RESTAURANT_FAQ = [
    ("Can I bring my dog?", "Dogs are welcome on our terrace, but not inside the dining room."),
    ("Do you take credit cards?", "We accept Visa, Mastercard and debit cards; we do not accept American Express."),
    ("Is there wifi?", "Yes, free wifi is available for guests; the password is on the back of the menu."),
    ("Can I bring my own wine?", "Yes, you can bring your own wine for a corkage fee of 12 euros per bottle."),
]

RESTAURANT = Business(
    key="restaurant",
    name="Red Lantern Sichuan Kitchen",
    timezone="Europe/Amsterdam",
    language="en",
    business_hours={
        "tue": [["11:30", "14:30"], ["17:30", "22:00"]],
        "wed": [["11:30", "14:30"], ["17:30", "22:00"]],
        "thu": [["11:30", "14:30"], ["17:30", "22:00"]],
        "fri": [["11:30", "14:30"], ["17:30", "23:00"]],
        "sat": [["11:30", "14:30"], ["17:30", "23:00"]],
        "sun": [["12:00", "21:00"]],
    },
    hours_exceptions=_christmas_and_new_year(eve_hours=[["12:00", "16:00"]]),
    handoff_message="I'm not sure about that — I've passed your question to our team, who will reply shortly.",
    texts=[("About us", RESTAURANT_ABOUT), ("关于我们", RESTAURANT_ZH)],
    faqs=RESTAURANT_FAQ,
    catalog_csv=RESTAURANT_MENU,
    sold_out=("Boiled fish in chilli oil",),
)

# --------------------------------------------------------------------------- Harbour Dental (clinic)

CLINIC_TREATMENTS = """# Treatments and prices
A routine check-up costs 45 euros and takes about 20 minutes.
A cleaning by our hygienist costs 65 euros.
Teeth whitening costs 350 euros for both jaws, in two visits.
Our hygienist also shows you how to brush well with an electric toothbrush.

# New patients
New patients are welcome. Please bring your ID card and your insurance details to the first visit,
and arrive ten minutes early to fill in the health form.

# Cancellations
Please cancel at least 24 hours in advance; an appointment cancelled later is charged at 30 euros.

# Dental emergencies
For a dental emergency outside opening hours, call the on-call dentist at +31 20 555 0199.
"""

CLINIC_FAQ = [
    ("Do you treat children?", "Yes, children are welcome from the age of two; their check-ups are free under "
                               "their parents' insurance."),
    ("Can I pay by card?", "Yes, you can pay by debit or credit card at the desk. We do not accept cash."),
    ("Where are you located?", "We are at Harbour Square 3, on the first floor, with a lift next to the entrance."),
    ("Is the clinic wheelchair accessible?", "Yes, the clinic is on the first floor and the lift is wheelchair "
                                             "accessible."),
]

CLINIC = Business(
    key="clinic",
    name="Harbour Dental",
    timezone="Europe/Amsterdam",
    language="en",
    business_hours={
        "mon": [["08:00", "17:30"]],
        "tue": [["08:00", "17:30"]],
        "wed": [["08:00", "17:30"]],
        "thu": [["08:00", "20:00"]],
        "fri": [["08:00", "17:30"]],
        "sat": [["09:00", "13:00"]],
    },
    hours_exceptions=_christmas_and_new_year(eve_hours=[["08:00", "12:00"]]),
    handoff_message="I can't answer that — I've passed your question to our reception, who will get back to you.",
    texts=[("Patient information", CLINIC_TREATMENTS)],
    faqs=CLINIC_FAQ,
)

# --------------------------------------------------------------------------- Bolt Bikes (bike shop)

SHOP_CATALOG = "\n".join([
    "name,category,price,description,options",
    "City Commuter 3,City bikes,649.00,Aluminium city bike with three gears and a front basket,frame S +0; frame M +0; frame L +20.00",  # noqa: E501
    "Trail Runner 29,Mountain bikes,1299.00,Hardtail mountain bike with 29-inch wheels and hydraulic brakes,",
    "E-Volt City,E-bikes,2199.00,Electric city bike with a 500 Wh battery and a range of up to 90 km,battery 500Wh +0; battery 625Wh +150.00",  # noqa: E501
    "E-Volt Cargo,E-bikes,3499.00,Electric cargo bike with a front box for two children,",
    "Sprout 16,Kids bikes,249.00,Kids bike with 16-inch wheels and stabilisers for ages 4 to 6,",
    "Urban helmet,Accessories,59.00,Helmet with a rear light,size S/M +0; size L/XL +0",
    "D-lock,Accessories,39.95,Hardened steel D-lock,",
    "Inner tube 28 inch,Parts,8.50,Inner tube with a Presta valve,",
    "",
])

SHOP_SERVICE = """# Workshop
Our workshop repairs all brands of bikes and e-bikes. A basic service costs 59 euros and takes one working day.
A puncture repair costs 15 euros and is usually done while you wait.
A scooter rack stands outside the shop for customers who arrive by scooter.

# Returns
You can return an unused bike within 30 days of purchase for a full refund, in its original box.

# Warranty
Every Bolt frame has a lifetime warranty for the first owner. E-bike batteries are covered for two years.
After a theft we can fill in the form for your insurer with the frame number.
"""

SHOP_FAQ = [
    ("Do you rent bikes?", "Yes, city bikes can be rented for 15 euros a day and e-bikes for 35 euros a day."),
    ("Can I test ride a bike?", "Yes, every bike in the shop can be test ridden; bring an ID card as a deposit."),
    ("Do you offer financing?", "Yes, you can pay for bikes over 500 euros in 12 monthly instalments at 0% "
                                "interest."),
]

SHOP = Business(
    key="shop",
    name="Bolt Bikes",
    timezone="Europe/Amsterdam",
    language="en",
    business_hours={
        "tue": [["10:00", "18:00"]],
        "wed": [["10:00", "18:00"]],
        "thu": [["10:00", "21:00"]],
        "fri": [["10:00", "18:00"]],
        "sat": [["09:30", "17:00"]],
    },
    hours_exceptions=_christmas_and_new_year(eve_hours=[["10:00", "15:00"]]),
    handoff_message="Good question — I've passed it to the team in the shop, who will answer you soon.",
    texts=[("Workshop and policies", SHOP_SERVICE)],
    faqs=SHOP_FAQ,
    catalog_csv=SHOP_CATALOG,
    sold_out=("E-Volt Cargo",),
)

BUSINESSES: dict[str, Business] = {b.key: b for b in (RESTAURANT, CLINIC, SHOP)}


# --------------------------------------------------------------------------- questions

A, H = Expect.answer, Expect.handoff
CLOSED = ("closed", "not open", "休息", "不营业", "关门", "不开")
CLOSED_ZH = ("休息", "不营业", "关门", "不开", "closed")


def _q(business: str, text: str, expect: Expect, *tags: str) -> Question:
    return Question(business, text, expect, frozenset(tags))


def _names(names) -> tuple[tuple[str, ...], ...]:
    """must_contain groups: each item by its English or its Chinese name."""
    return tuple((n, R_ZH[n]) for n in names)


def _not(names) -> tuple[str, ...]:
    """must_not_contain: the items by both names (an item's passage carries its Chinese name too)."""
    return tuple(names) + tuple(R_ZH[n] for n in names)


QUESTIONS: list[Question] = [
    # ---- restaurant: prices, options, sold out
    _q("restaurant", "How much are the dan dan noodles?", A([("11.50",)], CATALOG, ["13.00", "14.50"]), "price"),
    _q("restaurant", "How much is the mapo tofu?", A([("13.00",)], CATALOG, ["11.50", "14.50"]), "price"),
    _q("restaurant", "What does the Kung Pao chicken cost?", A([("14.50",)], CATALOG, ["13.00"]), "price"),
    _q("restaurant", "How much is a large dan dan noodles?", A([("14.00",)], CATALOG), "price", "option"),
    _q("restaurant", "How much extra is a large egg fried rice?", A([("2.00",)], CATALOG, ["2.50"]),
       "price", "option"),
    _q("restaurant", "Can I order the boiled fish in chilli oil today?",
       A([("sold out", "售罄", "not available", "unavailable")], CATALOG), "sold_out"),
    _q("restaurant", "担担面多少钱？", A([("11.50",)], CATALOG, ["13.00", "14.50"]), "price", "zh"),
    _q("restaurant", "宫保鸡丁多少钱？", A([("14.50",)], CATALOG, ["11.50"]), "price", "zh"),
    _q("restaurant", "芒果布丁多少钱？", A([("6.00",)], CATALOG, ["5.00"]), "price", "zh"),
    _q("restaurant", "水煮鱼还有吗？", A([("售罄", "sold out", "卖完", "没有了")], CATALOG), "sold_out", "zh"),
    # ---- restaurant: allergens and diet
    _q("restaurant", "Do the dan dan noodles contain peanuts?",
       A([("peanut", "花生")], CATALOG, ["no peanut", "peanut-free", "do not contain peanut",
                                          "don't contain peanut"]), "allergen"),
    _q("restaurant", "What allergens are in the Kung Pao chicken?",
       A([("peanut",), ("soy",), ("wheat", "gluten")], CATALOG, ["sesame", "milk"]), "allergen"),
    _q("restaurant", "Does the mango pudding contain milk?", A([("milk",)], CATALOG), "allergen"),
    _q("restaurant", "Is the fish-fragrant aubergine vegetarian?",
       A([("vegetarian",)], CATALOG, ["not vegetarian", "isn't vegetarian", "is not suitable"]), "diet"),
    _q("restaurant", "Is the mapo tofu vegetarian?",
       A([("not vegetarian", "isn't vegetarian", "not suitable for vegetarians", "contains meat", "beef")], CATALOG,
         ["is vegetarian."]), "diet"),
    _q("restaurant", "担担面含有哪些过敏原？",
       A([("花生", "peanut"), ("小麦", "麸质", "wheat", "gluten"), ("大豆", "soy"), ("芝麻", "sesame")], CATALOG,
         ["牛奶", "milk"]), "allergen", "zh"),
    # unknown allergens: never a guess
    _q("restaurant", "Does the Sichuan hot pot contain peanuts?",
       H(["no peanut", "peanut-free", "does not contain", "doesn't contain", "不含"]), "allergen", "unanswerable"),
    _q("restaurant", "Is the hot pot gluten-free?",
       H(["is gluten-free", "it's gluten-free", "no gluten"]), "allergen", "unanswerable"),
    # ---- restaurant: lists (exact)
    _q("restaurant", "Which dishes are vegetarian?",
       A(_names(R_VEGETARIAN), CATALOG, _not(R_MEAT)), "list", "diet"),
    _q("restaurant", "Do you have vegan options?",
       A(_names(R_VEGAN), CATALOG, _not((*R_MEAT, "Egg fried rice", "Mango pudding"))), "list", "diet"),
    _q("restaurant", "Which dishes contain peanuts?",
       A(_names(("Dan dan noodles", "Kung Pao chicken")), CATALOG,
         _not((*R_VEGETARIAN, "Mapo tofu", "Twice-cooked pork", "Boiled fish", "Sichuan hot pot"))),
       "list", "allergen"),
    _q("restaurant", "Which dishes are without soy?",
       A(_names(("Steamed rice", "Mango pudding", "Sesame balls")), CATALOG,
         _not((*R_MEAT, "Dry-fried green beans", "Fish-fragrant aubergine", "Smashed cucumber salad",
                 "Egg fried rice"))), "list", "allergen"),
    _q("restaurant", "Which desserts are vegan?",
       A(_names(("Sesame balls",)), CATALOG, _not(("Mango pudding", *R_MEAT))), "list", "diet"),
    _q("restaurant", "有哪些素食菜？",
       A(_names(R_VEGETARIAN), CATALOG, _not(R_MEAT)), "list", "diet", "zh"),
    # ---- restaurant: hours
    _q("restaurant", "Are you open on Monday?", A([CLOSED], HOURS), "hours"),
    _q("restaurant", "What time do you close on Saturday?", A([("23:00", "11 pm", "11pm", "11:00 pm")], HOURS,
                                                               ["22:00"]), "hours"),
    _q("restaurant", "Are you open on Christmas day?", A([CLOSED], HOURS), "hours"),
    _q("restaurant", "What are your hours on New Year's Eve?",
       A([("12:00", "12 pm", "noon"), ("16:00", "4 pm", "4pm")], HOURS, ["23:00"]), "hours"),
    _q("restaurant", "你们星期一营业吗？", A([CLOSED_ZH], HOURS), "hours", "zh"),
    _q("restaurant", "周六晚上几点关门？", A([("23:00", "11 pm", "11pm", "晚上11")], HOURS, ["22:00"]), "hours", "zh"),
    # ---- restaurant: FAQ and passages
    _q("restaurant", "Can I bring my dog to the restaurant?", A([("terrace",)], PASSAGES), "faq"),
    _q("restaurant", "Do you accept American Express?", A([("American Express",), ("not", "don't")], PASSAGES),
       "faq"),
    _q("restaurant", "Is there a corkage fee if I bring wine?", A([("12 euros",)], PASSAGES), "faq"),
    _q("restaurant", "How many guests fit in the private room?", A([("20",)], PASSAGES), "passage"),
    _q("restaurant", "你们送外卖吗？", A([("自取", "不提供外卖")], PASSAGES), "passage", "zh"),
    # ---- restaurant: not answerable from the knowledge
    _q("restaurant", "Do you deliver flowers?", H(["fresh flowers are on every table"]), "unanswerable"),
    _q("restaurant", "Do you have a kids menu?", H(), "unanswerable"),
    _q("restaurant", "How much is the Peking duck?", H(["11.50", "13.00", "14.50", "15.00", "18.50", "38.00"]),
       "unanswerable", "price"),
    _q("restaurant", "Is there parking nearby?", H(), "unanswerable"),
    _q("restaurant", "Do you sell gift vouchers?", H(), "unanswerable"),
    _q("restaurant", "Can I book the whole restaurant for a wedding?", H(["20 guests"]), "unanswerable"),
    _q("restaurant", "你们有儿童菜单吗？", H(), "unanswerable", "zh"),
    # no item states halal either way: unknown, not "no"
    _q("restaurant", "Do you have halal dishes?", H(), "unanswerable", "diet"),
    _q("restaurant", "Is the Kung Pao chicken halal?", H(["is halal", "not halal"]), "unanswerable", "diet"),
    _q("restaurant", "北京烤鸭多少钱？", H(["11.50", "13.00", "14.50", "38.00"]), "unanswerable", "price", "zh"),

    # ---- clinic: hours
    _q("clinic", "Are you open on Saturday?", A([("09:00", "9:00", "9 am", "9am"), ("13:00", "1 pm", "1pm")], HOURS),
       "hours"),
    _q("clinic", "Are you open on Sunday?", A([CLOSED], HOURS), "hours"),
    _q("clinic", "How late are you open on Thursday?", A([("20:00", "8 pm", "8pm")], HOURS, ["17:30"]), "hours"),
    _q("clinic", "Are you open on Christmas day?", A([CLOSED], HOURS), "hours"),
    # ---- clinic: passages and FAQ
    _q("clinic", "How much does a check-up cost?", A([("45 euros",)], PASSAGES, ["65 euros", "350 euros"]),
       "passage", "price"),
    _q("clinic", "What does teeth whitening cost?", A([("350 euros",)], PASSAGES, ["45 euros"]), "passage", "price"),
    _q("clinic", "What happens if I cancel my appointment late?", A([("30 euros",)], PASSAGES), "passage"),
    _q("clinic", "Who do I call for a dental emergency at night?", A([("+31 20 555 0199",)], PASSAGES), "passage"),
    _q("clinic", "Do you treat children?", A([("two",)], PASSAGES), "faq"),
    _q("clinic", "Can I pay with cash?", A([("do not accept cash", "don't accept cash")], PASSAGES), "faq"),
    _q("clinic", "Is the clinic accessible with a wheelchair?", A([("lift",)], PASSAGES), "faq"),
    # ---- clinic: not answerable
    _q("clinic", "Do you sell electric toothbrushes?", H(["45 euros", "65 euros"]), "unanswerable"),
    _q("clinic", "Do you offer braces for adults?", H(), "unanswerable"),
    _q("clinic", "How much does a dental implant cost?", H(["45 euros", "65 euros", "350 euros"]),
       "unanswerable", "price"),
    _q("clinic", "Is there parking at the clinic?", H(), "unanswerable"),
    _q("clinic", "Do you do botox treatments?", H(), "unanswerable"),
    _q("clinic", "How much does a filling cost?", H(["45 euros", "65 euros", "350 euros"]), "unanswerable", "price"),
    _q("clinic", "Do you sell teeth whitening kits to use at home?", H(["350 euros"]), "unanswerable"),
    _q("clinic", "Do you accept patients without insurance?", H(), "unanswerable"),
    _q("clinic", "你们周日营业吗？", A([CLOSED_ZH], HOURS), "hours", "zh"),

    # ---- shop: prices, options, sold out, lists
    _q("shop", "How much is the Trail Runner 29?", A([("1299", "1,299")], CATALOG, ["649", "2199", "2,199"]),
       "price"),
    _q("shop", "How much is the E-Volt City with the 625Wh battery?", A([("2349", "2,349")], CATALOG),
       "price", "option"),
    _q("shop", "What does the D-lock cost?", A([("39.95",)], CATALOG), "price"),
    _q("shop", "Is the E-Volt Cargo in stock?", A([("sold out", "not available", "out of stock", "unavailable")],
                                                 CATALOG, ["in stock."]), "sold_out"),
    _q("shop", "Which e-bikes do you sell?", A([("E-Volt City",)], CATALOG,
                                              ["City Commuter", "Trail Runner", "Sprout"]), "list"),
    _q("shop", "Which accessories do you have?", A([("Urban helmet", "helmet"), ("D-lock",)], CATALOG,
                                                  ["City Commuter", "Trail Runner", "E-Volt", "Sprout", "Inner tube"]),
       "list"),
    # ---- shop: hours
    _q("shop", "Are you open on Monday?", A([CLOSED], HOURS), "hours"),
    _q("shop", "What time do you open on Saturday?", A([("09:30", "9:30")], HOURS, ["10:00"]), "hours"),
    # ---- shop: passages and FAQ
    _q("shop", "How much does a basic service cost?", A([("59 euros",)], PASSAGES, ["15 euros"]), "passage"),
    _q("shop", "How long is the warranty on an e-bike battery?", A([("two years",)], PASSAGES, ["lifetime"]),
       "passage"),
    _q("shop", "Can I rent an e-bike?", A([("35 euros",)], PASSAGES), "faq"),
    _q("shop", "Can I pay for a bike in instalments?", A([("12 monthly instalments",)], PASSAGES), "faq"),
    # ---- shop: not answerable
    _q("shop", "Do you sell scooters?", H(["649", "1299", "2199"]), "unanswerable"),
    _q("shop", "Do you sell bike insurance?", H(), "unanswerable"),
    _q("shop", "How much is a tandem bike?", H(["649", "1299", "2199", "3499", "249"]), "unanswerable", "price"),
    _q("shop", "Do you sell child seats for bikes?", H(["3499"]), "unanswerable"),
    _q("shop", "Do you buy used bikes?", H(), "unanswerable"),
    _q("shop", "Do you repair electric scooters?", H(), "unanswerable"),
    _q("shop", "Do you deliver bikes to my home?", H(), "unanswerable"),
    _q("shop", "How much does it cost to replace a chain?", H(["59 euros", "15 euros"]), "unanswerable", "price"),
    _q("shop", "Does the E-Volt City come with a charger?", H(), "unanswerable"),
]


def counts() -> dict[str, int]:
    """Questions per tag, plus the totals the issue asks for."""
    out: dict[str, int] = {"total": len(QUESTIONS),
                           "answer": sum(q.expect.kind == "answer" for q in QUESTIONS),
                           "handoff": sum(q.expect.kind == "handoff" for q in QUESTIONS)}
    for q in QUESTIONS:
        for tag in q.tags:
            out[tag] = out.get(tag, 0) + 1
    for key in BUSINESSES:
        out[f"business:{key}"] = sum(q.business == key for q in QUESTIONS)
    return out
