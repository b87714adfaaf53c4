"""Fixed log-scale buckets for durations, so that medians add up across days.

Bucket 0 holds [0, 0.5 s); bucket i (1..39) holds [0.5·√2^(i-1), 0.5·√2^i) seconds; bucket 40
everything from 0.5·√2^39 s (about 72.8 h) on. Neighbouring edges differ by √2, so a median read
from the buckets (interpolated on the log scale inside its bucket) is within about ±19 % of the
true one, whatever the number of days summed. The SQL in ``services`` and the Python here must
agree: :data:`BUCKET_SQL` is the one expression that files a duration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

COUNT = 41
BASE_SECONDS = 0.5

# ``{s}`` is a duration in seconds (double precision, never negative).
BUCKET_SQL = (f"(CASE WHEN {{s}} < {BASE_SECONDS} THEN 0 "
              f"ELSE LEAST({COUNT - 1}, 1 + FLOOR(2 * LN({{s}} / {BASE_SECONDS}) / LN(2))::int) END)")


def zeros() -> list[int]:
    return [0] * COUNT


def hour_zeros() -> list[int]:
    return [0] * 24


def lower_edge(index: int) -> float:
    return 0.0 if index == 0 else BASE_SECONDS * 2 ** ((index - 1) / 2)


def bucket_of(seconds: float) -> int:
    """Python's twin of :data:`BUCKET_SQL` (tests and the benchmark's data)."""
    if seconds < BASE_SECONDS:
        return 0
    return min(COUNT - 1, 1 + math.floor(2 * math.log(seconds / BASE_SECONDS) / math.log(2)))


def median(counts: Sequence[int]) -> float | None:
    """The median duration in seconds the buckets stand for; None when they are empty. Inside its
    bucket the median is placed by rank, geometrically between the edges (linearly in bucket 0);
    in the last, open bucket it is that bucket's lower edge."""
    total = sum(counts)
    if not total:
        return None
    rank = total / 2
    seen = 0
    for index, n in enumerate(counts):
        if n and seen + n >= rank:
            fraction = (rank - seen) / n
            low = lower_edge(index)
            if index == 0:
                return round(BASE_SECONDS * fraction, 1)
            if index == COUNT - 1:
                return round(low, 1)
            return round(low * 2 ** (fraction / 2), 1)
        seen += n
    return round(lower_edge(COUNT - 1), 1)  # unreachable: the loop ends at the total
