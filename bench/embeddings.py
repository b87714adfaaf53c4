"""Local embedding throughput and retrieval quality: torch fp32 vs ONNX int8, 256 vs 512 tokens.

    .venv/bin/python bench/embeddings.py [--threads 2] [--chunks 32] [--rounds 3] [--skip-speed]

Prints two tables:

1. speed: chunks/s (median of interleaved rounds) for ~225- and ~400-word-piece chunks per
   runtime at max_seq_length 512, the ratio to torch fp32 in the same run (machines are
   noisy; the ratio is the number to keep), and each runtime's cosine to torch fp32.
2. retrieval: 20 knowledge chunks of a restaurant, a bike shop and a dental clinic (300-380
   word pieces each, the size ingestion makes) and 30 customer questions, each with the chunk
   that answers it. Top-1 and recall@3 per runtime and max_seq_length, split by where the
   answer sits in its chunk: "head" (inside the first 256 word pieces) or "tail" (past them,
   invisible to a model that truncates at 256), and how many top-1 hits equal torch fp32's.

A benchmark, not a test: it is not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from inference.embedding_backends.local import LocalEmbedder, minilm_token_count

# Each chunk reads like what ingestion cuts from a business's own pages.
PASSAGES: dict[str, str] = {
    "resto_hours": (
        "Trattoria Lucia - opening hours and location. We are a family-run Italian restaurant "
        "on 14 Harbour Street, opposite the old fish market. Lunch is served Tuesday to Sunday "
        "from 12:00 to 14:30, and dinner from 18:00 to 22:00, with the last orders for the "
        "kitchen taken at 21:30. On Fridays and Saturdays dinner runs until 23:00. We are "
        "closed every Monday, except on bank holiday Mondays when we open for lunch only. "
        "During the summer months (June to August) the terrace is open and we serve "
        "aperitivo from 17:00 with small plates and spritz. The restaurant closes for "
        "holidays for two weeks every January; the exact dates are announced on our home page "
        "in December. Getting here: the number 7 and number 12 buses stop at Harbour Square, "
        "a two-minute walk away. The nearest train station is Central, about fifteen minutes "
        "on foot along the river path. Parking: there is no parking at the restaurant itself, "
        "but the municipal car park on Dock Lane is free after 18:00 and on Sundays, and it "
        "is three minutes away. Bicycle racks are in front of the entrance. Accessibility: "
        "the dining room is on the ground floor with step-free access through the side door "
        "on Rope Walk, and we have an accessible toilet. The terrace has two steps, so please "
        "tell us if you need a table inside. Children are very welcome; we have high chairs "
        "and a small children's menu. Dogs are allowed on the terrace but not in the dining "
        "room, except assistance dogs, which are welcome everywhere."
    ),
    "resto_booking": (
        "Booking a table at Trattoria Lucia. You can book online through the form on our "
        "website up to sixty days ahead, or call us on 020 7946 0321 during opening hours. "
        "For groups of up to eight people an online booking is confirmed immediately by "
        "email. For groups of nine or more, please call or write to bookings@lucia.example, "
        "because we set up a long table in the back room and need to plan the kitchen. Large "
        "groups choose from our set menus at 35, 45 or 55 per person, and we ask for the "
        "choice at least three days before. We hold tables for fifteen minutes after the "
        "booked time; after that the table may be given to guests who are waiting. If you "
        "are running late, just call and we will do our best to keep it. Walk-ins are always "
        "welcome at the bar and on the terrace, which we do not take bookings for. "
        "Cancellations: please cancel at least 24 hours before your booking. For groups of "
        "nine or more we take a deposit of 10 per person when you book, which is refunded if "
        "you cancel at least 48 hours ahead and kept otherwise. A no-show for a group "
        "booking loses the deposit. Private hire: the whole restaurant can be booked for "
        "weddings, birthdays and company dinners on Mondays, when we are normally closed, "
        "for up to 60 guests seated or 90 standing, with a minimum spend of 2,500. "
        "We also host cooking classes on the first Sunday morning of each month, where our "
        "chef teaches fresh pasta and tiramisu; classes cost 65 including lunch and wine and "
        "are limited to twelve people, so they fill up quickly."
    ),
    "resto_menu_mains": (
        "Our menu - pasta and mains. All our pasta is made fresh every morning in our kitchen "
        "with Italian 00 flour and free-range eggs. Tagliatelle al ragu, slow-cooked beef and "
        "pork ragu with parmesan, 16. Spaghetti alle vongole, clams, garlic, white wine, "
        "parsley and chilli, 19. Pappardelle with wild boar ragu, 18. Ravioli filled with "
        "ricotta and spinach in sage butter, 15. Linguine with lobster, half a lobster with "
        "cherry tomatoes and brandy, 32, available Friday and Saturday only. Risotto of the "
        "day, ask your waiter, from 17. Mains: Saltimbocca alla romana, veal escalopes with "
        "prosciutto and sage, served with roast potatoes, 24. Grilled sea bass with salsa "
        "verde and green beans, 23. Chicken cacciatore, braised with tomatoes, olives and "
        "rosemary, 19. Bistecca alla fiorentina, a T-bone steak of about one kilo to share "
        "between two people, grilled over charcoal and served rare or medium-rare only, 68. "
        "Aubergine parmigiana, layers of fried aubergine, tomato sauce, mozzarella and "
        "parmesan, 16, vegetarian. Sides at 5 each: rocket and parmesan salad, roast "
        "potatoes with rosemary, sauteed spinach with garlic, and focaccia from our oven. "
        "Portions of pasta can be served as a starter size for 3 less. Our prices include "
        "VAT; a discretionary service charge of 12.5 percent is added to tables of six or "
        "more. Our chef, Marco, changes the specials board twice a week with whatever the "
        "market has, often fresh porcini in autumn and asparagus in spring."
    ),
    "resto_pizza": (
        "Pizza at Trattoria Lucia. Our pizzas are Neapolitan style, with a dough that rises "
        "for 48 hours and is baked in about ninety seconds in our wood-fired oven at 450 "
        "degrees. Margherita, tomato, fior di latte mozzarella and basil, 11. Marinara, "
        "tomato, garlic, oregano and olive oil, no cheese, 9. Diavola with spicy salami, 13. "
        "Quattro formaggi, 14. Capricciosa with ham, artichokes, mushrooms and olives, 14. "
        "Salsiccia e friarielli, sausage and wild broccoli, 15. Any extra topping costs 2. "
        "Pizzas are available at lunch and dinner every day we are open, and also for "
        "takeaway. Gluten-free pizza: we can make any of our pizzas on a gluten-free base for "
        "3 extra. The gluten-free bases are bought in sealed from a certified bakery, but "
        "they are baked in the same wood-fired oven as our normal pizzas, so we cannot "
        "guarantee that they are free from traces of gluten, and we do not recommend them "
        "for people with coeliac disease. Vegan pizza: the Marinara is vegan as it is, and "
        "we can make any other pizza with vegan cheese made from cashews for 2 extra. "
        "Takeaway and delivery: call us to order a pizza for collection, usually ready in 20 "
        "minutes. We deliver within three kilometres through our own riders from 18:00 to "
        "21:30; delivery costs 3 and is free for orders over 40. We do not work with the "
        "big delivery apps because we want the pizza to arrive hot. Pizza boxes are made of "
        "recycled cardboard and can go in the paper recycling, even with a bit of oil."
    ),
    "resto_allergens": (
        "Allergies and dietary needs. Please tell your waiter about any allergy or intolerance "
        "before you order, every time you visit, because our recipes change with the seasons. "
        "We keep a full allergen chart for every dish on the menu, covering the 14 major "
        "allergens, and staff will bring it to your table on request. Gluten: all of our "
        "fresh pasta contains wheat and egg. We can cook dried gluten-free pasta for any "
        "sauce except the lobster linguine, in a separate pot of water. Most of our mains are "
        "naturally gluten free apart from the breadcrumbs on the saltimbocca. Nuts: our pesto "
        "contains pine nuts, the cantucci biscuits served with coffee contain almonds, and the "
        "vegan cheese is made from cashews. The kitchen handles nuts every day, so we cannot "
        "rule out traces in any dish. Dairy: the risotto, most sauces and all desserts except "
        "the sorbets contain butter or cream. Ask for the olive oil version of the tomato "
        "pasta, which is dairy free. Shellfish and fish: the vongole, the lobster linguine and "
        "the sea bass are cooked on a separate station, but they share the same fryer as the "
        "calamari. Eggs are used in the fresh pasta, tiramisu and the mayonnaise. Sesame is "
        "not used anywhere in our kitchen. Halal and kosher: our meat is not certified halal "
        "or kosher, though the chicken comes from a halal-certified farm. Vegetarians can "
        "choose from about a third of our menu; the parmesan we use is made with animal "
        "rennet, so dishes finished with parmesan are not strictly vegetarian, and we use a "
        "vegetarian hard cheese instead whenever you ask."
    ),
    "resto_desserts_wine": (
        "Desserts, coffee and drinks. Tiramisu made to our grandmother's recipe with "
        "mascarpone, savoiardi and espresso, 8. Panna cotta with a berry compote, 7. "
        "Affogato, vanilla gelato drowned in a shot of espresso, 6. Lemon and basil sorbet, "
        "dairy free, 6. Chocolate torta caprese, made with almonds and naturally flour free, "
        "8. A selection of Italian cheeses with honey and walnuts, 12. Coffee: espresso 2.50, "
        "cappuccino 3.50, we also have decaf and oat milk. Wines: our list has about forty "
        "Italian wines, mostly from small family producers in Piedmont, Tuscany, Campania and "
        "Sicily. House red and white by the glass are 6, by the carafe 18, and the bottle 26. "
        "A sommelier, Giulia, works Thursday to Saturday evenings and is happy to suggest a "
        "pairing. Corkage: you are welcome to bring your own bottle of wine for a corkage "
        "fee of 15 per bottle, limited to two bottles per table, and not on Friday or "
        "Saturday evenings. Beers: Peroni on draught and two craft beers from a local "
        "brewery. Non-alcoholic: homemade lemonade, San Pellegrino sodas, alcohol-free "
        "spritz and alcohol-free beer. Grappa and amaro: we have a trolley of twenty "
        "digestivi; ask for the list. Birthday cakes: we can prepare a whole tiramisu or "
        "torta caprese for a celebration with two days notice, for 40, and if you bring your "
        "own cake we charge a cakeage fee of 2 per person. Gift vouchers for any amount can "
        "be bought at the restaurant or by phone and are valid for twelve months."
    ),
    "shop_repairs": (
        "Northside Cycles - workshop and repairs. Our workshop is open Monday to Saturday "
        "from 9:00 to 17:30 and repairs every kind of bicycle, including road bikes, mountain "
        "bikes, folding bikes, cargo bikes and children's bikes. Book a service online or just "
        "bring the bike in; for booked services we aim to have the bike ready the same day if "
        "it arrives before 10:00. A basic service costs 45 and includes adjusting gears and "
        "brakes, checking the wheels are true, lubricating the chain and a safety check. A "
        "full service costs 110 and adds stripping and cleaning the drivetrain, regreasing "
        "the bearings, and new cables and outer casing. Parts are charged extra. A puncture "
        "repair is 12 while you wait, or 18 with a new inner tube, and we fix most punctures "
        "in about twenty minutes. Tubeless setup is 25 per wheel plus sealant. Wheel truing "
        "starts at 15. Hydraulic brake bleeding is 20 per brake. We can fit parts you bought "
        "elsewhere, but labour is charged at 50 per hour and we cannot guarantee parts we "
        "did not supply. Electric bikes: our mechanics are trained for Bosch and Shimano "
        "Steps motors. We can run a diagnostic and update the motor software for 30, but "
        "battery cells cannot be repaired in our workshop; faulty batteries are sent to the "
        "manufacturer under warranty. Collection: bikes left more than 30 days after we have "
        "told you that the repair is finished are charged a storage fee of 2 per day. Every "
        "repair is guaranteed for three months; if the same problem comes back, bring the "
        "bike in and we fix it free of charge."
    ),
    "shop_returns": (
        "Returns, refunds and exchanges at Northside Cycles. If you change your mind, you can "
        "return most items bought in the shop or online within 30 days for a full refund, as "
        "long as they are unused, in their original packaging and you have the receipt or "
        "order number. Clothing and shoes must have the labels still attached. Bikes can be "
        "returned within 14 days if they have not been ridden outside, apart from a test "
        "ride; a bike that has been ridden or has had parts changed can only be exchanged, "
        "not refunded. For hygiene reasons we do not accept returns of saddles that have been "
        "used, bib shorts, chamois cream, or opened tubes of sealant. Online orders can be "
        "returned to the shop or sent back by post; we pay the return postage if the item is "
        "faulty or we sent the wrong thing, otherwise the postage is yours. Refunds go back "
        "to the original payment method within five working days of the return reaching us. "
        "Gift cards and custom-built wheels cannot be refunded. Faulty items: if something "
        "stops working as it should, bring it back with the receipt. Within the first six "
        "months we will repair, replace or refund it; after that the manufacturer's warranty "
        "applies, which is two years for most components and lifetime for many frames, and "
        "we handle the claim for you with the brand. Warranty claims usually take two to "
        "four weeks because the part goes back to the manufacturer for inspection. Price "
        "match: if you find the same item cheaper at a UK shop with stock, show us the price "
        "and we will match it, except for clearance sales and marketplace sellers."
    ),
    "shop_bikes_sizing": (
        "Buying a bike at Northside Cycles: sizing and test rides. We stock road, gravel, "
        "hybrid, mountain and electric bikes from Trek, Specialized, Brompton and Tern, and "
        "children's bikes from Frog and Islabikes. Our staff will measure your height and "
        "inside leg for free to find the right frame size; as a rough guide, riders from "
        "165 to 175 centimetres usually ride a medium frame, but it depends on the brand's "
        "geometry. Test rides: you can test ride any bike in stock on the quiet street next "
        "to the shop. We ask for a photo ID or a card as a deposit while you ride. Longer "
        "test rides of an electric bike for a whole day can be booked for 25, which is taken "
        "off the price if you buy the bike within two weeks. Professional bike fit: a 90 "
        "minute fit session on our fitting rig with a trained fitter costs 150, and it is "
        "free when you buy a road or gravel bike over 2,000. Every new bike comes with a free "
        "first service within the first three months, when cables have stretched and gears "
        "need adjusting. Children's bikes: we offer a trade-in scheme where you get back 30 "
        "percent of the price of a Frog bike in good condition when you trade it in for a "
        "bigger one. Finance: 0 percent finance is available on bikes over 500 over 12 "
        "months, subject to status, and we take part in the Cycle to Work scheme with most "
        "employers, which lets you save on a bike through salary sacrifice. Delivery: we "
        "deliver built and adjusted bikes free of charge within ten miles of the shop."
    ),
    "shop_hours_contact": (
        "Northside Cycles - shop hours, finding us and contact. The shop is at 221 Canal "
        "Road, next to the lock, and opens Monday to Friday 8:30 to 18:30, Saturday 9:00 to "
        "17:30, and Sunday 10:00 to 16:00 for sales only, as the workshop is closed on "
        "Sundays. We close on Christmas Day, Boxing Day and New Year's Day, and close early "
        "at 15:00 on Christmas Eve. There is a customer car park with six spaces behind the "
        "shop, reached from Mill Lane, and a covered bike rack at the front. If you are "
        "coming along the canal towpath, the shop entrance is up the ramp by the lock "
        "keeper's cottage. You can reach us by phone on 0161 496 0781, by email at "
        "hello@northside.example, or through the chat on our website, which is answered "
        "within an hour during opening times. For questions about an online order, please "
        "have your order number ready; it starts with NS and is in your confirmation email. "
        "Click and collect: order online and collect from the shop, usually within two hours "
        "if the item is in stock; we will text you when it is ready. We keep click and collect "
        "orders for fourteen days. Online orders over 50 ship free to UK addresses with "
        "tracked delivery in two to three working days; smaller orders cost 4.99. We do not "
        "ship bikes abroad, but we do send parts and clothing to most European countries for "
        "a flat fee of 15. Group rides leave the shop every Saturday at 8:00, a friendly "
        "no-drop ride of about 60 kilometres with a coffee stop, free and open to everyone."
    ),
    "shop_rental": (
        "Bike hire at Northside Cycles. We rent out hybrid bikes, electric bikes and "
        "children's bikes by the half day, the day or the week. A hybrid costs 20 for a half "
        "day, 30 for a day and 110 for a week; an electric bike costs 35 for a half day, 55 "
        "for a day and 220 for a week; a child's bike or a trailer for a toddler costs 12 a "
        "day. Every hire includes a helmet, a lock, lights and a puncture repair kit. Half "
        "day means from opening until 13:00 or from 13:00 until closing. To hire a bike you "
        "need to be 18 or over and bring photo ID and a card for a security deposit of 150 "
        "for hybrids and 400 for electric bikes, which is held and released when the bike "
        "comes back undamaged. Bookings can be made online up to three months ahead and we "
        "recommend booking for summer weekends. Cancellations up to 48 hours before the hire "
        "are refunded in full; later than that we keep half of the hire fee. Damage and "
        "theft: normal wear is fine, but damage beyond a puncture is charged at workshop "
        "prices, and if a bike is stolen while locked with our lock, we charge an excess of "
        "250 for a hybrid or 750 for an electric bike. Routes: we give every hirer a map of "
        "our three favourite routes, including the flat canal route to the reservoir, which "
        "is about 25 kilometres return and suitable for families. Late returns are charged "
        "10 per hour. Groups of more than ten riders, such as company away days, get 15 "
        "percent off and can have a guide for 80 per half day."
    ),
    "shop_electric": (
        "Electric bikes: batteries, range and charging. The range of an electric bike depends "
        "on the battery size, the assistance level, the weight of the rider, hills, wind and "
        "temperature. As a guide, a 500 Wh battery gives between 50 and 120 kilometres. "
        "Batteries lose some capacity in the cold, so expect about 20 percent less range in "
        "winter. A full charge takes three to five hours with the standard charger, and a "
        "battery can be charged at any level, there is no need to let it run down first. "
        "Store the battery indoors at room temperature, at 30 to 60 percent charge if the "
        "bike will not be used for a month or more. Most batteries keep about 70 percent of "
        "their capacity after 500 to 1,000 full charge cycles, which is usually several years "
        "of riding. A replacement Bosch PowerTube 625 battery costs about 850, and we can "
        "order it in two to five days. Recycling: we take back old e-bike batteries of any "
        "brand free of charge for safe recycling. Legal: in the UK an electric bike must have "
        "pedals, a motor of at most 250 watts, and assistance that cuts out at 25 kilometres "
        "per hour; riders must be at least 14 years old. Faster models are classed as mopeds "
        "and need registration, insurance and a licence, so we do not sell them. Washing: "
        "never use a pressure washer on an electric bike, as water can get into the motor "
        "and the connectors; use a bucket and a soft brush. Our workshop can check the motor "
        "and battery health with the manufacturer's diagnostic tool for 30."
    ),
    "shop_loyalty": (
        "Membership, loyalty and trade accounts. Northside Club is our free membership: sign "
        "up in the shop or online and you get 10 percent off workshop labour, early access to "
        "our sales, and an invitation to our monthly maintenance evenings. Maintenance "
        "evenings are held on the last Wednesday of each month from 18:30 to 20:30; a "
        "mechanic shows how to fix a puncture, adjust brakes and index gears, and you can "
        "bring your own bike. Places are limited to ten, so book ahead. Members also collect "
        "one point for every pound spent, and 100 points give a 5 voucher. Points expire "
        "after 24 months without a purchase. Student discount: students with a valid student "
        "card get 10 percent off parts and accessories, but not on bikes, which cannot be "
        "combined with club discounts. Emergency services staff and NHS workers get 15 "
        "percent off accessories on showing their ID. Trade accounts for couriers and "
        "delivery riders: riders who work for a delivery company can open a trade account "
        "with priority repairs, which means we start on your bike within four hours so you "
        "can get back on the road, and a monthly invoice. Corporate fleets: we maintain "
        "fleets of bikes for companies and councils, with scheduled on-site servicing. "
        "Sponsorship: we support two local cycling clubs and a youth BMX team; clubs can ask "
        "about discounts on kit orders. Gift cards can be bought in any amount from 10 to "
        "500 and are valid for three years, for anything in the shop and the workshop."
    ),
    "clinic_hours_booking": (
        "Brightsmile Dental Clinic - opening hours and appointments. The clinic is at 8 "
        "Station Parade, first floor, above the pharmacy, with a lift. We are open Monday to "
        "Thursday from 8:00 to 19:00, Friday from 8:00 to 16:00, and the first and third "
        "Saturday of each month from 9:00 to 13:00. You can book appointments online through "
        "our booking page, by phone on 0117 496 0452, or at reception. New patients are "
        "welcome, both NHS and private; NHS places are limited and we keep a waiting list, "
        "which currently takes about four months, while private appointments are usually "
        "available within a week. Your first visit is a new patient examination of about 45 "
        "minutes with X-rays if needed, costing 65 privately. Please arrive ten minutes early "
        "to fill in a medical history form, and bring a list of any medicines you take. "
        "Cancellations: please give us at least 24 hours notice if you cannot come. For "
        "private appointments cancelled with less notice, or missed, we charge a fee of 30 "
        "for a check-up and 60 for longer treatments, because that time could have gone to "
        "another patient. Two missed appointments in a year may mean we can no longer offer "
        "you NHS treatment. Reminders: we send a text message two days before every "
        "appointment, and you can reply C to cancel. Children: we see children from their "
        "first tooth, and NHS dental care is free for children under 18. Please let us know "
        "if you need an interpreter; we can arrange one for NHS appointments at no cost."
    ),
    "clinic_emergency": (
        "Dental emergencies at Brightsmile. If you have severe toothache, a broken tooth, a "
        "lost filling or crown, or swelling, call us as soon as we open at 8:00: we keep "
        "emergency appointments free every day for patients in pain, registered or not. An "
        "emergency appointment for a private patient costs 75 and includes the examination, "
        "an X-ray and temporary treatment to get you out of pain; any further treatment is "
        "quoted separately. NHS patients pay the Band 1 urgent care charge. If a tooth has "
        "been knocked out, pick it up by the crown, not the root, rinse it briefly in milk, "
        "and if you can, put it back in the socket or keep it in milk, and come straight to "
        "us: a tooth put back within an hour has the best chance of surviving. Outside "
        "opening hours, call NHS 111, which can book you into the out-of-hours dental "
        "service. Go to A&E at the hospital if you have swelling that affects your breathing, "
        "swallowing or your eye, heavy bleeding that does not stop after 20 minutes of "
        "pressure, or an injury to the face or jaw after an accident. While you wait for an "
        "appointment, painkillers such as paracetamol or ibuprofen can help if they are safe "
        "for you, but never put aspirin directly on the gum, as it burns. A cold compress on "
        "the cheek reduces swelling. For a lost filling, temporary filling material from a "
        "pharmacy can protect the tooth for a few days. Wisdom tooth pain often comes and "
        "goes; rinse with warm salt water and book an appointment if it lasts more than two "
        "days. Our dentists do not prescribe antibiotics for toothache without an examination."
    ),
    "clinic_prices": (
        "Treatments and prices. NHS treatment follows the national charges in three bands: "
        "Band 1 covers examination, diagnosis, X-rays and a scale and polish if clinically "
        "needed; Band 2 adds fillings, root canal treatment and extractions; Band 3 adds "
        "crowns, dentures and bridges. You pay one charge per course of treatment, not per "
        "visit. Some people get free NHS dental treatment, including under 18s, under 19s "
        "in full-time education, pregnant women and those who had a baby in the last 12 "
        "months, and people on certain benefits; you may be asked to show proof. Private "
        "prices: check-up 55, hygienist visit of 30 minutes 70, white composite filling from "
        "120, root canal treatment on a front tooth from 450 and on a molar from 750, "
        "extraction from 150, porcelain crown from 650, dental implant including the crown "
        "from 2,400. Teeth whitening with custom trays and gel to use at home costs 350 and "
        "takes about two weeks. Invisible aligners to straighten teeth start at 2,900 after a "
        "free consultation with our orthodontist. We always give you a written treatment plan "
        "with the cost before any treatment starts, and you are never charged for something "
        "you did not agree to. Payment: we take cards, Apple Pay and bank transfer, and we "
        "do not take cheques. For treatment plans over 1,000 we offer interest-free finance "
        "over 12 months through our finance partner, subject to approval. Dental plans: our "
        "membership plan costs 16 a month and covers two check-ups and two hygienist visits "
        "a year, with 10 percent off other private treatment."
    ),
    "clinic_anxiety": (
        "Nervous patients and sedation. Many of our patients feel anxious about the dentist, "
        "and our team is trained to help. Tell us when you book, and we will give you a longer "
        "first appointment just to talk, with no treatment unless you want it. You can agree "
        "a stop signal, such as raising your hand, and the dentist will pause at once. You are "
        "welcome to bring headphones and listen to your own music, or bring a friend to sit "
        "with you. For longer or more difficult treatments, or for very anxious patients, we "
        "offer conscious sedation with midazolam given through a vein in the arm. You stay "
        "awake and can respond, but you feel very relaxed and usually remember little of the "
        "treatment. Sedation costs 250 per visit on top of the treatment. Before sedation you "
        "need an assessment appointment where we check your medical history and blood "
        "pressure. On the day of sedation you must bring an adult escort who can take you "
        "home and stay with you for the rest of the day; you must not drive, cycle, work "
        "machinery, drink alcohol or sign legal documents for 24 hours afterwards. You can "
        "eat a light meal up to two hours before the appointment. Sedation is not suitable "
        "during pregnancy, and we may ask your doctor for advice if you have a lung or liver "
        "condition. For children we do not offer sedation at the clinic; we refer them to the "
        "community dental service, which can treat children under general anaesthetic in "
        "hospital. Laughing gas (inhalation sedation) is not available at our clinic."
    ),
    "clinic_hygiene": (
        "Hygienist visits and keeping your teeth healthy. Our two hygienists, Priya and Tom, "
        "clean and polish your teeth, remove the hard tartar that brushing cannot shift, and "
        "show you how to brush and clean between your teeth. Most adults benefit from a "
        "hygienist visit every six months; people with gum disease may need one every three "
        "months. You can book a hygienist directly without seeing a dentist first. A visit "
        "lasts 30 minutes and costs 70 privately; for NHS patients a scale and polish is "
        "only provided when the dentist finds it clinically necessary, as part of Band 1. "
        "Airflow stain removal for tea, coffee and red wine stains is available for 95. "
        "Bleeding gums are usually a sign of gum inflammation, not of brushing too hard; "
        "keep brushing gently and book a check, because gum disease is painless at first and "
        "is the main reason adults lose teeth. Our advice: brush twice a day for two minutes "
        "with a fluoride toothpaste of 1,350 to 1,500 ppm, spit out but do not rinse after "
        "brushing, and clean between your teeth once a day with interdental brushes, which "
        "work better than floss for most people. Electric toothbrushes with a round head "
        "remove more plaque than manual brushes. Keep sugary food and drinks to mealtimes. "
        "Smoking and vaping both increase the risk of gum disease, and our hygienists can "
        "refer you to the free local stop smoking service. We sell interdental brushes, "
        "high-fluoride toothpaste on prescription and mouthguards for contact sports, which "
        "we make to fit your teeth for 85, in the colours of your club."
    ),
    "clinic_children": (
        "Children at Brightsmile. Bring your child to the dentist when their first tooth "
        "appears, or by their first birthday, so they get used to the visits while nothing "
        "is wrong. NHS check-ups and treatment are free for everyone under 18. Children's "
        "appointments are in the afternoon after school, from 15:30, so they do not miss "
        "lessons, and on the Saturday mornings we are open. We apply fluoride varnish to "
        "children's teeth twice a year from the age of three, which strengthens the enamel "
        "and helps prevent decay, and fissure sealants on the back teeth of children at high "
        "risk of decay. Toothpaste for children: under three years old, use a smear of "
        "toothpaste with at least 1,000 ppm fluoride; from three to six years, a pea-sized "
        "amount with 1,000 to 1,500 ppm. Help your child brush until they are about seven. "
        "Baby teeth matter, because they keep the space for the adult teeth; if a baby tooth "
        "is lost too early, the others can drift and crowd. Thumb sucking usually stops by "
        "itself before the adult teeth come through and rarely needs treatment. Braces: "
        "our orthodontist sees children from around the age of 9 for a first assessment. NHS "
        "braces are available to under 18s whose teeth meet the national need criteria, "
        "with a waiting list of about 18 months; private braces with fixed metal brackets "
        "cost from 3,200. Sports: a custom mouthguard protects teeth in rugby, hockey and "
        "boxing. If your child knocks out a baby tooth, do not put it back, but come to see "
        "us so we can check the adult tooth underneath."
    ),
    "clinic_policies": (
        "Practice policies: records, privacy and complaints. Your dental records, X-rays and "
        "medical history are kept securely on our computer system and are only shared with "
        "other health professionals involved in your care, such as a hospital you are "
        "referred to, or when the law requires it. You can ask for a copy of your records at "
        "any time, free of charge, and we will send it within one month. Please tell us when "
        "your medicines, address or phone number change. Photos taken for treatment planning "
        "are never used on our website or social media without your written consent. We "
        "record phone calls for training, and the recordings are deleted after 90 days. "
        "Complaints: if you are not happy with any part of your care, please speak to our "
        "practice manager, Helen Moore, in person, by phone or by email at "
        "practice@brightsmile.example. We acknowledge every complaint within three working "
        "days and aim to give a full answer within 20 working days. If you are not satisfied "
        "with our answer about NHS treatment, you can contact NHS England; for private "
        "treatment, the Dental Complaints Service, which is free and independent. Our "
        "dentists are registered with the General Dental Council, and you can check any "
        "dentist's registration on its website. Behaviour: we do not tolerate abuse or "
        "violence towards our staff, and patients who are abusive may be removed from our "
        "list. Guide dogs and assistance dogs are welcome in the clinic. Mobile phones should "
        "be on silent in the treatment rooms. Our waiting room has free wifi; ask reception "
        "for the password."
    ),
}

# (question, chunk that answers it, words of the answer as they appear in that chunk)
QUESTIONS: list[tuple[str, str, str]] = [
    ("Are you open on Mondays?", "resto_hours", "closed every Monday"),
    ("Where can I park my car near the restaurant?", "resto_hours", "municipal car park on Dock Lane"),
    ("Can I bring my dog?", "resto_hours", "Dogs are allowed on the terrace"),
    ("What happens to my deposit if I cancel a group booking?", "resto_booking", "refunded if you cancel"),
    ("Do you run pasta making classes?", "resto_booking", "cooking classes on the first Sunday"),
    ("How much is the T-bone steak?", "resto_menu_mains", "Bistecca alla fiorentina"),
    ("Is there a service charge for big tables?", "resto_menu_mains", "service charge of 12.5 percent"),
    ("Is your gluten-free pizza safe for someone with coeliac disease?", "resto_pizza", "coeliac disease"),
    ("Do you deliver pizza and how much does delivery cost?", "resto_pizza", "delivery costs 3"),
    ("Is the parmesan vegetarian?", "resto_allergens", "animal rennet"),
    ("Is the chicken halal?", "resto_allergens", "halal-certified farm"),
    ("Can I bring my own wine, and what is the corkage fee?", "resto_desserts_wine", "corkage"),
    ("How much does a full bike service cost?", "shop_repairs", "full service costs 110"),
    ("Will you charge me if I leave my bike at the workshop for a long time?", "shop_repairs", "storage fee"),
    ("Can I return a bike I have already ridden?", "shop_returns", "can only be exchanged"),
    ("How long does a warranty claim take?", "shop_returns", "two to four weeks"),
    ("Is there a cycle to work scheme?", "shop_bikes_sizing", "Cycle to Work scheme"),
    ("How much does it cost to rent an e-bike for a day?", "shop_rental", "55"),
    ("What do I pay if a rented bike gets stolen?", "shop_rental", "excess of"),
    ("Can I wash my e-bike with a pressure washer?", "shop_electric", "never use a pressure washer"),
    ("Do I need a licence for a fast electric bike?", "shop_electric", "need registration, insurance and a licence"),
    ("Do you offer quick repairs for delivery riders?", "shop_loyalty", "priority repairs"),
    ("What should I do if my tooth gets knocked out?", "clinic_emergency", "knocked out"),
    ("Can I be put to sleep for a filling because I am scared?", "clinic_anxiety", "conscious sedation"),
    ("Can I drive home after sedation?", "clinic_anxiety", "must not drive"),
    ("How much does a dental implant cost?", "clinic_prices", "dental implant"),
    ("Why do my gums bleed when I brush?", "clinic_hygiene", "Bleeding gums"),
    ("Do you make mouthguards for rugby?", "clinic_hygiene", "mouthguards for contact sports"),
    ("How long is the wait for NHS braces for my son?", "clinic_children", "waiting list of about 18 months"),
    ("How do I make a complaint about my treatment?", "clinic_policies", "Complaints"),
]

# ~225 and ~400 word pieces of ordinary English, for the speed table.
_FILLER = " ".join(PASSAGES.values()).split()


def _chunk_of(tokens: int, offset: int) -> str:
    words = _FILLER[offset:] + _FILLER[:offset]
    lo, hi = 1, len(words)
    while lo < hi:  # the longest prefix with at most `tokens` word pieces
        mid = (lo + hi + 1) // 2
        if minilm_token_count(" ".join(words[:mid])) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def _answer_position(chunk: str, phrase: str) -> int:
    at = chunk.find(phrase)
    if at < 0:
        raise SystemExit(f"answer phrase {phrase!r} is not in its chunk")
    return minilm_token_count(chunk[:at]) + 1  # +1 for [CLS]


def _retrieval(embedder: LocalEmbedder) -> tuple[dict[str, tuple[int, int, int]], list[str]]:
    ids = list(PASSAGES)
    docs = np.array(embedder.embed_documents([PASSAGES[i] for i in ids]))
    queries = np.array(embedder.embed_documents([q for q, _, _ in QUESTIONS]))
    ranks = np.argsort(-(queries @ docs.T), axis=1)
    stats = {"head": [0, 0, 0], "tail": [0, 0, 0]}  # top1, recall@3, n
    for (_, chunk_id, phrase), row in zip(QUESTIONS, ranks, strict=True):
        where = "head" if _answer_position(PASSAGES[chunk_id], phrase) < 256 else "tail"
        top = [ids[j] for j in row[:3]]
        stats[where][0] += top[0] == chunk_id
        stats[where][1] += chunk_id in top
        stats[where][2] += 1
    return {k: tuple(v) for k, v in stats.items()}, [ids[row[0]] for row in ranks]


def _speed(embedder: LocalEmbedder, chunks: list[str]) -> float:
    embedder.embed_documents(chunks[:4])  # warm up
    start = time.perf_counter()
    embedder.embed_documents(chunks)
    return len(chunks) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=32, help="chunks per speed measurement")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache-dir", default=None, help="ONNX export cache (default: a temp dir)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is shown")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()

    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="frontdesk-bench-")
    runtimes = {"torch": "torch fp32", "onnx": "onnx int8"}
    embedders = {
        (rt, seq): LocalEmbedder(
            batch_size=args.batch_size,
            max_seq_length=seq,
            runtime=rt,
            cache_dir=cache_dir,
            num_threads=args.threads,
        )
        for rt in runtimes
        for seq in (256, 512)
    }

    print(f"threads={args.threads} batch_size={args.batch_size} chunks={args.chunks} rounds={args.rounds}")
    if not args.skip_speed:
        print("\n| backend | chunk tokens | chunks/s | vs torch fp32 | cosine to torch fp32 (min / mean) |")
        print("| --- | ---: | ---: | ---: | --- |")
        for size in (225, 400):
            chunks = [_chunk_of(size, i * 97 % len(_FILLER)) for i in range(args.chunks)]
            tokens = [minilm_token_count(c) for c in chunks]
            reference = np.array(embedders["torch", 512].embed_documents(chunks))
            # Interleaved rounds and the median: another process on the same cores slows
            # whichever runtime happens to be running, not one of them every time.
            rates: dict[str, list[float]] = {rt: [] for rt in runtimes}
            for _ in range(args.rounds):
                for rt in runtimes:
                    rates[rt].append(_speed(embedders[rt, 512], chunks))
            base = statistics.median(rates["torch"])
            for rt, label in runtimes.items():
                rate = statistics.median(rates[rt])
                cos = (np.array(embedders[rt, 512].embed_documents(chunks)) * reference).sum(axis=1)
                print(
                    f"| {label} | {min(tokens)}-{max(tokens)} | {rate:.1f} | {rate / base:.2f}x "
                    f"| {cos.min():.4f} / {cos.mean():.4f} |"
                )

    lengths = [minilm_token_count(p) for p in PASSAGES.values()]
    n_tail = sum(_answer_position(PASSAGES[c], p) >= 256 for _, c, p in QUESTIONS)
    print(
        f"\nretrieval: {len(PASSAGES)} chunks of {min(lengths)}-{max(lengths)} word pieces, "
        f"{len(QUESTIONS)} questions ({len(QUESTIONS) - n_tail} answered in the first 256 "
        f"tokens of their chunk, {n_tail} after them)"
    )
    print(
        "\n| backend | max_seq_length | top-1 | recall@3 | top-1 head | top-1 tail | recall@3 tail "
        "| same top-1 as torch |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    torch_top1: dict[int, list[str]] = {}
    for (rt, seq), embedder in embedders.items():
        s, top1 = _retrieval(embedder)
        torch_top1.setdefault(seq, top1)
        same = sum(a == b for a, b in zip(top1, torch_top1[seq], strict=True))
        h, t = s["head"], s["tail"]
        n = h[2] + t[2]
        print(
            f"| {runtimes[rt]} | {seq} | {h[0] + t[0]}/{n} | {h[1] + t[1]}/{n} "
            f"| {h[0]}/{h[2]} | {t[0]}/{t[2]} | {t[1]}/{t[2]} | {same}/{n} |"
        )


if __name__ == "__main__":
    main()
