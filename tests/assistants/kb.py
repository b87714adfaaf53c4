"""A small, realistic knowledge base: a restaurant, a bike shop and a dental clinic.

Each business teaches its assistant with a different kind of source, and QUESTIONS says
which passage must answer which question (English, and Chinese for the restaurant).
"""

from __future__ import annotations

from tests.assistants.ingestion.helpers import make_docx, make_pdf

MENU_CSV = """dish,price,allergens,description,vegetarian
Mapo tofu,12.50,soy; sesame,Silken tofu in a fiery Sichuan pepper sauce with minced pork,no
Kung Pao chicken,14.00,peanuts; soy,Wok-fried chicken with roasted peanuts and dried chillies,no
Dan dan noodles,11.00,wheat; sesame; peanuts,Noodles in chilli oil with preserved vegetables,no
Dry-fried green beans,9.50,soy,Green beans blistered in the wok with garlic,yes
Steamed jasmine rice,3.00,,Fragrant long-grain rice,yes
Mango pudding,6.50,milk,Chilled mango pudding with evaporated milk,yes
"""

RESTAURANT_FAQ = [
    {"question": "Can I bring my dog?", "answer": "Dogs are welcome on our terrace, but not inside the dining room."},
    {"question": "Do you have parking?", "answer": "Yes, there is free parking for guests behind the restaurant, "
                                                   "entrance on Mill Lane."},
    {"question": "Do you deliver?", "answer": "We deliver within 5 km on Friday and Saturday evenings; order by "
                                              "phone at +31 20 555 0188."},
    {"question": "Can I book a table for a big group?", "answer": "Groups of up to 8 can book online. For more "
                                                                 "than 8 people please call us."},
]

RESTAURANT_TEXT = """# Opening hours
We are open Tuesday to Sunday. Lunch is served from 11:30 to 14:30 and dinner from 18:00 to 22:30.
We are closed on Mondays and on Chinese New Year's Day.

# 素食与过敏
我们提供多种素食菜品，例如干煸四季豆和麻婆豆腐（素食版）。如果您对花生过敏，请在点餐时告诉服务员。

# Gift vouchers
Gift vouchers are sold at the counter in amounts of 25, 50 and 100 euros and are valid for one year.
"""

SHOP_HTML = """<!doctype html><html><head><title>Returns | Bolt Bikes</title></head><body>
<nav><a href="/">Home</a> <a href="/bikes">Bikes</a> <a href="/contact">Contact</a> Shop now! Free gift!</nav>
<main>
<h1>Returns and refunds</h1>
<p>You can return an unused bike within 30 days of delivery for a full refund. Bikes must be returned in the
original box with all accessories. Refunds are paid to the original payment method within 5 working days.</p>
<h2>Exchanges</h2>
<p>Wrong frame size? We exchange it for free within 30 days, and we pay for the return shipping.</p>
</main>
<footer>© Bolt Bikes · Privacy · Cookie settings · Newsletter sign-up</footer>
</body></html>"""


def shop_warranty_docx() -> bytes:
    return make_docx([
        ("title", "Bolt Bikes warranty"),
        ("heading1", "Frames"),
        ("p", "Every Bolt frame carries a lifetime warranty against manufacturing defects for the first owner."),
        ("heading1", "Components"),
        ("p", "Gears, brakes and wheels are covered for two years. Tyres, chains and brake pads are wear parts "
              "and are not covered."),
        ("heading1", "E-bike batteries"),
        ("p", "E-bike batteries are covered for three years or 800 charge cycles, whichever comes first."),
    ])


def clinic_pdf() -> bytes:
    return make_pdf([
        "Harbour Dental - patient information\n\nAppointments\nBook an appointment by phone or online. Please "
        "arrive ten minutes early for your first visit and bring your ID card. Cancel at least 24 hours in advance "
        "or a fee of 35 euros is charged.",
        "Insurance and payment\nWe accept all major dental insurance plans. Treatment not covered by your insurer "
        "is paid at the desk by card. We do not accept cash.",
        "Dental emergencies\nFor a dental emergency outside opening hours, such as severe pain or a knocked-out "
        "tooth, call the on-call dentist at +31 20 555 0199. Keep a knocked-out tooth in milk.",
    ], title="Harbour Dental patient information")


# (tenant, question, a phrase the best passage must contain)
QUESTIONS = [
    ("restaurant", "How much is the mapo tofu?", "12.50"),
    ("restaurant", "Which dishes contain peanuts?", "peanuts"),
    ("restaurant", "Can I bring my dog?", "terrace"),
    ("restaurant", "Is there somewhere to park the car?", "parking"),
    ("restaurant", "Are you open on Monday?", "closed on Mondays"),
    ("restaurant", "你们有素食菜吗？", "素食"),
    ("shop", "How many days do I have to return a bike?", "30 days"),
    ("shop", "Is the frame covered by the warranty?", "lifetime warranty"),
    ("shop", "How long is the battery of an e-bike guaranteed?", "800 charge cycles"),
    ("clinic", "What should I do in a dental emergency at night?", "on-call dentist"),
    ("clinic", "Can I pay with cash?", "do not accept cash"),
    ("clinic", "What happens if I cancel my appointment late?", "35 euros"),
]
