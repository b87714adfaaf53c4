"""Calibration of UNANSWERED_TOPIC_SIMILARITY: how questions group into topics at each threshold.

    .venv/bin/python bench/unanswered.py [--orders 50]

55 customer questions a restaurant's knowledge may lack, on 17 subjects (3-6 wordings each,
one subject in Chinese, two single questions), embedded with the local all-MiniLM-L6-v2. They
are filed as assistants/unanswered/services.py files them (the closest open topic's centroid if
at least the threshold similar, else a new topic; the centroid a re-normalised running mean,
``centroid_merge``), in ``--orders`` random orders, since the result depends on the order.

Prints the similarity of pairs on the same subject and on different ones, then one row per
threshold: topics made (the reference: the number of subjects), the share of same-subject
pairs that end in one topic (recall), and topics that mix subjects (answering one of those
would close a question it does not answer). A calibration, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUBJECTS: dict[str, list[str]] = {
    "parking": ["Do you have parking?", "Is there a car park near the restaurant?", "Where can I park my car?",
                "Is parking available?", "can i park there", "Do you have a parking lot?"],
    "delivery": ["Do you deliver?", "Can you deliver food to my house?", "Do you offer home delivery?",
                 "Is delivery available to my area?", "do you do deliveries"],
    "kids": ["Do you have a kids menu?", "Is there a children's menu?", "Do you have food for children?",
             "kids menu?"],
    "wifi": ["Do you have wifi?", "Is there free WiFi?", "What's the wifi password?",
             "Can I use the internet there?"],
    "gift": ["Do you sell gift cards?", "Can I buy a gift voucher?", "Do you have gift certificates?"],
    "private": ["Can I book the restaurant for a private party?", "Do you host private events?",
                "Can we rent the whole place for a birthday party?"],
    "card": ["Do you accept credit cards?", "Can I pay by card?", "Do you take Visa?", "Is card payment accepted?"],
    "wheelchair": ["Is the restaurant wheelchair accessible?", "Do you have step-free access?",
                   "Can I come in a wheelchair?"],
    "vegan": ["Do you have vegan options?", "Is there anything vegan on the menu?", "vegan dishes?"],
    "gluten": ["Do you have gluten-free dishes?", "Is there a gluten free menu?", "I'm coeliac, what can I eat?"],
    "dog": ["Can I bring my dog?", "Are dogs allowed?", "Is the restaurant pet friendly?"],
    "corkage": ["Can I bring my own wine?", "Do you charge corkage?", "Is it BYOB?"],
    "jobs": ["Are you hiring?", "Do you have any job openings?", "How can I apply for a job?"],
    "refund": ["Can I get a refund?", "How do I get my money back?", "What is your refund policy?"],
    "zh_parking": ["有停车位吗？", "可以停车吗？", "附近有停车场吗？"],
    "football": ["Who won the football world cup in 1954?"],
    "weather": ["What's the weather like tomorrow?"],
}
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50, help="random filing orders per threshold")
    args = parser.parse_args()

    import django

    django.setup()
    from assistants.unanswered.services import centroid_merge
    from inference import providers

    embedder = providers.embedder()
    subject_of = {q: s for s, questions in SUBJECTS.items() for q in questions}
    questions = list(subject_of)
    vectors = {q: np.asarray(embedder.embed_query(q)) for q in questions}  # as the collection embeds them
    same = [(a, b) for qs in SUBJECTS.values() for a, b in itertools.combinations(qs, 2)]
    other = [(a, b) for a, b in itertools.combinations(questions, 2) if subject_of[a] != subject_of[b]]
    same_sims = [float(vectors[a] @ vectors[b]) for a, b in same]
    other_sims = sorted((float(vectors[a] @ vectors[b]), a, b) for a, b in other)
    print(f"{embedder.model_name}: {len(questions)} questions on {len(SUBJECTS)} subjects")
    print(f"same subject, {len(same)} pairs: p10 {np.percentile(same_sims, 10):.2f}, "
          f"median {np.median(same_sims):.2f}, max {max(same_sims):.2f}")
    print(f"different subjects, {len(other)} pairs: median {np.median([s for s, _, _ in other_sims]):.2f}, "
          f"p99 {np.percentile([s for s, _, _ in other_sims], 99):.2f}, max {other_sims[-1][0]:.2f} "
          f"({other_sims[-1][1]!r} / {other_sims[-1][2]!r})")
    print()
    print(f"| threshold | topics (subjects: {len(SUBJECTS)}) | same-subject pairs in one topic | mixed topics |")
    print("|---|---|---|---|")
    for threshold in THRESHOLDS:
        made, recall, mixed = [], [], []
        for seed in range(args.orders):
            order = questions[:]
            random.Random(seed).shuffle(order)
            topics: list[dict] = []
            for q in order:
                v = vectors[q]
                best = max(topics, key=lambda t: float(t["centroid"] @ v), default=None)
                if best is not None and float(best["centroid"] @ v) >= threshold:
                    best["centroid"] = centroid_merge(best["centroid"], len(best["members"]), v)
                    best["members"].append(q)
                else:
                    topics.append({"centroid": v, "members": [q]})
            topic_of = {m: i for i, t in enumerate(topics) for m in t["members"]}
            made.append(len(topics))
            recall.append(sum(topic_of[a] == topic_of[b] for a, b in same) / len(same))
            mixed.append(sum(1 for t in topics if len({subject_of[m] for m in t["members"]}) > 1))
        print(f"| {threshold:.2f} | {np.mean(made):.1f} | {np.mean(recall):.2f} | {np.mean(mixed):.2f} |")


if __name__ == "__main__":
    main()
