"""Ingestion throughput: a 100-page PDF handbook and a 2,000-row CSV catalog, end to end.

    .venv/bin/python bench/ingest.py [--pages 100] [--rows 2000] [--reference-chunks 48] [--db NAME]

Runs the real service, ``assistants.ingestion.pipeline.source_ingest``, against the dev
database (``config.settings.dev``: the embedded PostgreSQL unless DATABASE_URL is set) for a
throwaway business made with ``business_signup`` and deleted at the end. ``--db NAME`` runs
in a database of its own on the embedded server instead (created, migrated, dropped at the
end): for when the dev database is behind on migrations or busy. The pipeline's own
steps are wrapped with timers while it runs (``extract_file`` and ``chunk_document`` as
``_chunks_for`` calls them, then ``_embed`` and ``_store``), so the split is of the very run
whose total is reported; "other" is what is left (advisory lock, status writes, loading the
upload from the database).

Reference in the same run (machines are noisy; the ratio is the number to keep): the same
first ``--reference-chunks`` chunks of each input embedded by the configured embedder (ONNX
int8 by default) and by the torch fp32 runtime (``get_embedder(local_runtime="torch")``).

The embedder is built and warmed before the clock starts: a worker keeps it for its life.
A benchmark, not a test: it is not part of the test run.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# --------------------------------------------------------------------------- realistic text
# Small businesses' own words: hours, bookings, menus, policies, staff handbooks. Sentences are
# built from templates and vocabularies per trade, deterministic for a seed. bench/retrieval.py
# uses the same generator for its synthetic knowledge bases.

TRADES: dict[str, dict[str, list[str]]] = {
    "restaurant": {
        "items": ["mapo tofu", "kung pao chicken", "dan dan noodles", "margherita pizza", "sea bass", "lamb tagine",
                  "mushroom risotto", "beef ragu", "tiramisu", "mango pudding", "caesar salad", "fish and chips",
                  "vegetable curry", "pad thai", "ramen", "falafel wrap", "cheesecake", "tomato soup"],
        "ingredients": ["peanuts", "sesame", "gluten", "soy", "shellfish", "eggs", "milk", "tree nuts", "celery",
                        "mustard", "garlic", "chilli", "coriander", "almonds"],
        "services": ["table booking", "takeaway order", "delivery", "private dining", "catering", "brunch"],
        "places": ["dining room", "terrace", "bar", "back room", "kitchen", "garden"],
        "staff": ["waiter", "chef", "host", "sommelier", "kitchen porter", "manager"],
    },
    "bike shop": {
        "items": ["city bike", "gravel bike", "e-bike battery", "carbon frame", "disc brake", "tubeless tyre",
                  "child seat", "cargo bike", "helmet", "chain", "derailleur", "pannier rack", "road bike",
                  "folding bike", "bike lock", "saddle"],
        "ingredients": ["aluminium", "carbon", "steel", "rubber", "lithium cells", "hydraulic fluid"],
        "services": ["repair", "service plan", "test ride", "bike fitting", "trade-in", "rental"],
        "places": ["workshop", "showroom", "test track", "storage room", "counter", "yard"],
        "staff": ["mechanic", "sales adviser", "fitter", "workshop lead", "manager"],
    },
    "dental clinic": {
        "items": ["check-up", "hygiene visit", "filling", "crown", "root canal", "whitening", "implant",
                  "night guard", "braces", "x-ray", "extraction", "veneer", "mouthguard"],
        "ingredients": ["fluoride", "local anaesthetic", "composite resin", "porcelain", "latex", "titanium"],
        "services": ["appointment", "emergency visit", "insurance claim", "payment plan", "consultation"],
        "places": ["waiting room", "treatment room", "reception", "x-ray room", "recovery room"],
        "staff": ["dentist", "hygienist", "dental nurse", "receptionist", "orthodontist"],
    },
    "hotel": {
        "items": ["double room", "family suite", "breakfast buffet", "late checkout", "airport shuttle",
                  "spa pass", "parking space", "baby cot", "extra bed", "room service", "sea view room"],
        "ingredients": ["feather pillows", "hypoallergenic bedding", "gluten-free bread", "oat milk"],
        "services": ["reservation", "check-in", "checkout", "luggage storage", "laundry", "wake-up call"],
        "places": ["lobby", "spa", "restaurant", "car park", "rooftop bar", "gym", "meeting room"],
        "staff": ["receptionist", "concierge", "housekeeper", "night porter", "duty manager"],
    },
    "hair salon": {
        "items": ["haircut", "colour", "balayage", "blow-dry", "beard trim", "keratin treatment", "highlights",
                  "perm", "bridal styling", "children's cut", "scalp treatment"],
        "ingredients": ["ammonia", "peroxide", "argan oil", "henna", "sulphates", "parabens"],
        "services": ["appointment", "patch test", "consultation", "gift voucher", "loyalty card"],
        "places": ["salon floor", "wash area", "reception", "colour bar", "private room"],
        "staff": ["stylist", "colourist", "junior stylist", "barber", "salon manager"],
    },
    "gym": {
        "items": ["monthly membership", "day pass", "personal training", "spin class", "yoga class",
                  "swimming pool", "sauna", "locker", "protein shake", "towel service", "induction session"],
        "ingredients": ["chlorine", "whey protein", "soy protein", "caffeine"],
        "services": ["membership freeze", "class booking", "guest pass", "fitness assessment", "cancellation"],
        "places": ["weights area", "studio", "pool", "changing room", "cardio floor", "cafe"],
        "staff": ["personal trainer", "instructor", "lifeguard", "front desk", "club manager"],
    },
    "bakery": {
        "items": ["sourdough loaf", "croissant", "birthday cake", "rye bread", "cinnamon bun", "baguette",
                  "macaron", "vegan brownie", "wedding cake", "focaccia", "pain au chocolat", "scone"],
        "ingredients": ["wheat", "rye", "butter", "eggs", "hazelnuts", "almonds", "sesame", "milk", "yeast"],
        "services": ["custom order", "catering", "click and collect", "wholesale", "tasting"],
        "places": ["shop", "bakehouse", "cafe corner", "counter", "cold room"],
        "staff": ["baker", "pastry chef", "shop assistant", "decorator", "owner"],
    },
    "bookshop": {
        "items": ["signed first edition", "children's book", "gift card", "audiobook", "graphic novel",
                  "second-hand paperback", "book club pack", "travel guide", "cookbook", "poetry collection"],
        "ingredients": ["recycled paper", "hardback binding", "large print"],
        "services": ["special order", "book club", "author event", "gift wrapping", "school order"],
        "places": ["children's corner", "reading room", "basement", "till", "events space"],
        "staff": ["bookseller", "events manager", "buyer", "owner"],
    },
}

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = ["7:30", "8:00", "9:00", "10:00", "11:30", "12:00", "14:30", "17:00", "18:00", "20:00", "21:30", "22:00"]
STREETS = ["Harbour Street", "Mill Lane", "Station Road", "Market Square", "Rope Walk", "Church Street",
           "Riverside", "High Street", "Dock Lane", "Orchard Road"]

TOPICS: dict[str, list[str]] = {
    "hours": [
        "We are open {day} to {day2} from {t1} to {t2}, and closed on {day3}.",
        "On {day} we close early at {t2}, so the last {service} is taken at {t1}.",
        "During the summer months the {place} stays open until {t2} on {day} and {day2}.",
        "On public holidays we open from {t1} to {t2}; the exact dates are posted on our home page.",
        "Our {staff} is available by phone from {t1} every weekday, except {day3}.",
    ],
    "booking": [
        "You can book a {service} online up to {n} days ahead, or call us during opening hours.",
        "For groups of more than {n} people please call, because we need to plan the {place}.",
        "We hold a {service} for fifteen minutes; after that it may be given to someone who is waiting.",
        "Please cancel at least {n} hours before your {service}, otherwise a fee of {price} euros is charged.",
        "A deposit of {price} euros is taken for every {service} of more than {n} people.",
        "Walk-ins are always welcome in the {place}, which we do not take bookings for.",
    ],
    "prices": [
        "The {item} costs {price} euros, and the {item2} is {price2} euros.",
        "Our {item} is {price} euros on weekdays and {price2} euros at weekends.",
        "Students and seniors get {n} percent off the {item} on {day}.",
        "Every price includes VAT; a service charge of {n} percent is added for groups.",
        "A {service} costs {price} euros and is free for members of our loyalty scheme.",
        "Gift vouchers for the {item} are sold in amounts of {price} and {price2} euros.",
    ],
    "allergens": [
        "The {item} contains {ing} and may contain traces of {ing2}.",
        "Please tell our {staff} about any allergy before you order, every time you visit.",
        "We can prepare the {item} without {ing} if you ask when you book.",
        "The {place} handles {ing} every day, so we cannot rule out traces in any {item}.",
        "Our allergen chart lists the {item} and every other dish, and the {staff} will bring it on request.",
        "The {item} is free from {ing} and {ing2}, and it is suitable for vegans.",
    ],
    "location": [
        "You find us at {n} {street}, opposite the old market and two minutes from the bus stop.",
        "The nearest car park is on {street}; it is free after {t2} and on {day}.",
        "Bicycle racks are in front of the {place}, and the entrance on {street} has step-free access.",
        "The {place} is on the ground floor, with an accessible toilet next to the {place2}.",
        "Buses {n} and {n2} stop at {street}, a short walk from our door.",
    ],
    "policies": [
        "You can return an unused {item} within {n} days for a full refund, with the receipt.",
        "Dogs are welcome in the {place} but not in the {place2}, except assistance dogs.",
        "Children under {n} must be accompanied by an adult in the {place} at all times.",
        "We accept cards and mobile payments; we do not accept cash for a {service} over {price} euros.",
        "A {service} that is not collected within {n} days is cancelled and refunded.",
        "Photos in the {place} are allowed as long as other guests are not in them.",
    ],
    "services": [
        "Our {service} service runs from {t1} to {t2}, {day} to {day2}.",
        "We deliver within {n} kilometres; delivery costs {price} euros and is free over {price2} euros.",
        "The {staff} can help you choose a {item} and explain how the {service} works.",
        "For a {service}, fill in the form on our website and we answer within {n} hours.",
        "Every {item} comes with a free check after {n} weeks, booked at the {place}.",
        "We can arrange a {service} for companies, schools and events of up to {n2} people.",
    ],
    "staff": [
        "New {staff}s shadow an experienced colleague for their first {n} shifts.",
        "Every {staff} checks the {place} at opening and records the temperature of the cold room.",
        "Shifts are published every {day} for the following two weeks.",
        "Holiday requests go to the manager at least {n} weeks in advance.",
        "The {staff} on duty is responsible for the {place} and for closing the till at {t2}.",
        "Uniforms are provided; please wear closed shoes in the {place} for your safety.",
    ],
    "safety": [
        "Fire exits are at the back of the {place} and next to the {place2}; keep them clear at all times.",
        "The first-aid kit is kept behind the counter in the {place}, and every {staff} knows where it is.",
        "Report any accident to the {staff} on duty and write it in the incident book the same day.",
        "Cleaning products are stored in the locked cupboard next to the {place2}.",
        "Once a {day} the {staff} tests the fire alarm at {t1} before we open.",
    ],
}

QUESTIONS: dict[str, list[str]] = {
    "hours": ["When are you open on {day}?", "What time do you close on {day}?", "Are you open on public holidays?"],
    "booking": ["Can I book a {service} for {n} people?", "How do I cancel my {service}?",
                "Do you take walk-ins in the {place}?"],
    "prices": ["How much is the {item}?", "Do you have student discounts?", "Do you sell gift vouchers?"],
    "allergens": ["Does the {item} contain {ing}?", "Is the {item} vegan?", "Can you make the {item} without {ing}?"],
    "location": ["Where can I park near you?", "Is the {place} wheelchair accessible?", "Which bus stops near you?"],
    "policies": ["Can I return a {item}?", "Can I bring my dog?", "Do you accept cash?"],
    "services": ["Do you deliver?", "How does the {service} work?", "Can you arrange a {service} for a company?"],
    "staff": ["When are shifts published?", "How do I request holiday?", "What do new {staff}s do first?"],
    "safety": ["Where is the first-aid kit?", "Where are the fire exits?", "How do I report an accident?"],
}


def _fill(template: str, rng: random.Random, trade: dict[str, list[str]]) -> str:
    items, places = trade["items"], trade["places"]
    sentence = template.format(
        day=rng.choice(DAYS), day2=rng.choice(DAYS), day3=rng.choice(DAYS), t1=rng.choice(TIMES),
        t2=rng.choice(TIMES), n=rng.randint(2, 30), n2=rng.randint(10, 120),
        price=f"{rng.randint(2, 90)}.{rng.choice(['00', '50', '95'])}", price2=f"{rng.randint(2, 120)}.00",
        item=rng.choice(items), item2=rng.choice(items), ing=rng.choice(trade["ingredients"]),
        ing2=rng.choice(trade["ingredients"]), service=rng.choice(trade["services"]), place=rng.choice(places),
        place2=rng.choice(places), staff=rng.choice(trade["staff"]), street=rng.choice(STREETS),
    )
    return sentence[0].upper() + sentence[1:]


def sentence(rng: random.Random, *, trade: str, topic: str) -> str:
    return _fill(rng.choice(TOPICS[topic]), rng, TRADES[trade])


def question(rng: random.Random, *, trade: str, topic: str) -> str:
    return _fill(rng.choice(QUESTIONS[topic]), rng, TRADES[trade])


def handbook_pages(pages: int, *, chars_per_page: int = 3000, seed: int = 7) -> list[str]:
    """A staff handbook / menu book: a heading per page, paragraphs of one topic, a menu list."""
    rng = random.Random(seed)
    trade = "restaurant"
    topics = list(TOPICS)
    out = []
    for number in range(1, pages + 1):
        topic = topics[(number - 1) % len(topics)]
        lines = [f"{number}. {topic.capitalize()} - Golden Harbour staff and guest handbook", ""]
        size = sum(len(line) + 1 for line in lines)
        while size < chars_per_page:
            if rng.random() < 0.25:
                item = rng.choice(TRADES[trade]["items"]).capitalize()
                ing = ", ".join(rng.sample(TRADES[trade]["ingredients"], 2))
                line = f"{item} .......... {rng.randint(4, 30)}.{rng.choice(['00', '50'])}  (contains {ing})"
            else:
                line = " ".join(sentence(rng, trade=trade, topic=topic) for _ in range(rng.randint(2, 4)))
            lines.append(line)
            size += len(line) + 1
            if rng.random() < 0.3:
                lines.append("")
        out.append("\n".join(lines)[:chars_per_page])
    return out


def catalog_csv(rows: int, *, seed: int = 11) -> bytes:
    """A shop's product export: name, price, allergens/attributes, description."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["sku", "name", "category", "price", "allergens", "attributes", "description"])
    trades = ["bakery", "restaurant", "bike shop", "bookshop"]
    adjectives = ["classic", "organic", "large", "small", "seasonal", "family", "deluxe", "light", "spicy", "new"]
    for i in range(rows):
        trade = trades[i % len(trades)]
        vocab = TRADES[trade]
        name = f"{rng.choice(adjectives).capitalize()} {rng.choice(vocab['items'])} no. {i + 1}"
        allergens = "; ".join(rng.sample(vocab["ingredients"], rng.randint(0, min(3, len(vocab["ingredients"])))))
        attributes = "; ".join(rng.sample(["vegan", "vegetarian", "gluten-free", "bestseller", "local",
                                           "limited edition", "recyclable packaging", "in stock"], 2))
        description = " ".join(sentence(rng, trade=trade, topic=rng.choice(["prices", "allergens", "services"]))
                               for _ in range(2))
        writer.writerow([f"SKU-{i + 1:05d}", name, trade, f"{rng.randint(1, 400)}.{rng.randint(0, 99):02d}",
                         allergens, attributes, description])
    return buffer.getvalue().encode()


# --------------------------------------------------------------------------- the benchmark


class StepTimer:
    """Wraps module-level functions of the pipeline so their time is summed per step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._patched: list[tuple[object, str, object]] = []

    def wrap(self, module, name: str, step: str) -> None:
        original = getattr(module, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[step] += time.perf_counter() - started

        self._patched.append((module, name, original))
        setattr(module, name, timed)

    def restore(self) -> None:
        for module, name, original in reversed(self._patched):
            setattr(module, name, original)
        self._patched.clear()


def _chunks_per_second(embedder, texts: list[str], rounds: int) -> float:
    embedder.embed_documents(texts[:2])  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        embedder.embed_documents(texts)
        times.append(time.perf_counter() - started)
    return len(texts) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--chars-per-page", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--reference-chunks", type=int, default=48,
                        help="chunks of each input embedded by both runtimes for the ratio (0: skip)")
    parser.add_argument("--reference-rounds", type=int, default=3)
    parser.add_argument("--db", help="a database of the embedded server to use instead of the dev one: created, "
                                     "migrated, and dropped at the end")
    args = parser.parse_args()

    root = Path(__file__).resolve().parents[1]
    if args.db:
        from config.embedded_db.server import embedded_server_address

        host, port = embedded_server_address(pgdata=str(root / ".data" / "pg"), name=args.db)
        os.environ["DATABASE_URL"] = f"postgres://postgres@/{args.db}?host={host}&port={port}"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.db.migrations.executor import MigrationExecutor

    if args.db:
        call_command("migrate", verbosity=0)
    elif MigrationExecutor(connection).migration_plan(MigrationExecutor(connection).loader.graph.leaf_nodes()):
        raise SystemExit("the dev database has unapplied migrations: run `manage.py migrate`, or pass --db NAME to "
                         "run in a throwaway database")
    try:
        _bench(args, settings)
    finally:
        if args.db:
            import psycopg

            connections.close_all()
            with psycopg.connect(host=host, port=port, dbname="postgres", user="postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def _bench(args, settings) -> None:
    from assistants import services
    from assistants.ingestion import pipeline
    from assistants.models import Chunk, KnowledgeSource, SourceFile
    from businesses.models import Business
    from inference import providers
    from inference.embeddings import get_embedder

    load_avg = os.getloadavg()
    build_started = time.perf_counter()
    embedder = providers.embedder()
    embedder.embed_documents(["warm up the model", "and its tokenizer"])
    embedder_load = time.perf_counter() - build_started
    runtime = getattr(embedder, "runtime", type(embedder).__name__)

    started = time.perf_counter()
    pdf = _make_pdf(handbook_pages(args.pages, chars_per_page=args.chars_per_page))
    pdf_build = time.perf_counter() - started
    catalog = catalog_csv(args.rows)

    signup = services.business_signup(
        email=f"bench-ingest-{time.time_ns()}@example.com", password="a sturdy bench passphrase 42",
        business_name="Bench ingest (throwaway)",
    )
    business, assistant = signup.business, signup.assistant
    results = []
    try:
        inputs = [
            ("handbook.pdf", "application/pdf", pdf, f"PDF, {args.pages} pages"),
            ("catalog.csv", "text/csv", catalog, f"CSV, {args.rows} rows"),
        ]
        for file_name, content_type, data, label in inputs:
            # The row and its upload as source_create stores them, without queueing a task:
            # the benchmark runs the service itself, in this process.
            source = KnowledgeSource.objects.unscoped().create(
                business=business, assistant=assistant, kind=KnowledgeSource.Kind.FILE, title=file_name,
                file_name=file_name, content_type=content_type, size_bytes=len(data),
            )
            SourceFile.objects.unscoped().create(business=business, source=source, data=data)
            timer = StepTimer()
            timer.wrap(pipeline, "extract_file", "extract")
            timer.wrap(pipeline, "chunk_document", "chunk")
            timer.wrap(pipeline, "_embed", "embed")
            timer.wrap(pipeline, "_store", "store")
            try:
                started = time.perf_counter()
                pipeline.source_ingest(business_id=business.pk, source_id=source.pk)
                total = time.perf_counter() - started
            finally:
                timer.restore()
            source.refresh_from_db()
            if source.status != KnowledgeSource.Status.READY:
                raise SystemExit(f"{file_name} ended {source.status}: {source.error_code} {source.error}")
            texts = list(Chunk.objects.for_business(business).filter(source=source).order_by("ordinal")
                         .values_list("text", flat=True))
            pages = (Chunk.objects.for_business(business).filter(source=source).exclude(page=None)
                     .values("page").distinct().count())
            results.append({"label": label, "total": total, "steps": dict(timer.seconds), "chunks": len(texts),
                            "pages": pages, "texts": texts,
                            "chars": statistics.mean(len(t) for t in texts)})

        reference = []
        if args.reference_chunks:
            torch_embedder = get_embedder(local_runtime="torch", batch_size=settings.EMBEDDINGS_BATCH_SIZE,
                                          cache_dir=settings.CACHE_DIR / "models")
            for result in results:
                texts = result["texts"][: args.reference_chunks]
                configured = _chunks_per_second(embedder, texts, args.reference_rounds)
                torch = _chunks_per_second(torch_embedder, texts, args.reference_rounds)
                reference.append((result["label"], len(texts), configured, torch))
    finally:
        if not args.db:  # a --db database is dropped whole
            try:
                Business.objects.filter(pk=business.pk).delete()
                signup.user.delete()
            except Exception as exc:  # the numbers are still worth printing
                print(f"warning: could not delete the throwaway business {business.pk}: {exc}")

    _print(results, reference, runtime=runtime, embedder_load=embedder_load, pdf_build=pdf_build,
           pdf_bytes=len(pdf), csv_bytes=len(catalog), batch=settings.EMBEDDINGS_BATCH_SIZE, load_avg=load_avg,
           database=settings.DATABASES["default"]["NAME"])


def _make_pdf(pages: list[str]) -> bytes:
    from tests.assistants.ingestion.helpers import make_pdf

    return make_pdf(pages, title="Golden Harbour handbook")


def _print(results, reference, *, runtime, embedder_load, pdf_build, pdf_bytes, csv_bytes, batch, load_avg,
           database) -> None:
    print(f"embedder: {runtime} (built and warmed in {embedder_load:.1f} s, before the clock), "
          f"EMBEDDINGS_BATCH_SIZE={batch}, cpus={os.cpu_count()}, database {database}, "
          f"load average at start {load_avg[0]:.2f}")
    print(f"inputs: PDF {pdf_bytes / 1024:.0f} KiB (built in {pdf_build:.1f} s, not counted), "
          f"CSV {csv_bytes / 1024:.0f} KiB")
    print()
    steps = ["extract", "chunk", "embed", "store"]
    header = (f"| input | chunks | mean chars/chunk | total s | {' | '.join(s + ' s' for s in steps)} | other s "
              "| chunks/s | pages/s |")
    print(header)
    print("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
    for r in results:
        split = [r["steps"].get(s, 0.0) for s in steps]
        other = r["total"] - sum(split)
        cells = " | ".join(f"{s:.2f} ({100 * s / r['total']:.0f}%)" for s in split)
        pages = f"{r['pages'] / r['total']:.2f}" if r["pages"] else "-"
        print(f"| {r['label']} | {r['chunks']} | {r['chars']:.0f} | {r['total']:.2f} | {cells} | {other:.2f} "
              f"| {r['chunks'] / r['total']:.1f} | {pages} |")
    if reference:
        print()
        print(f"| reference: embedding the first chunks of each input | chunks | {runtime} chunks/s "
              "| torch-fp32 chunks/s | ratio |")
        print("|---|---|---|---|---|")
        for label, n, configured, torch in reference:
            print(f"| {label} | {n} | {configured:.1f} | {torch:.1f} | {configured / torch:.2f}x |")


if __name__ == "__main__":
    main()
