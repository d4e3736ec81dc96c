"""Ratios of two things measured in turns, each pair at the same moment of the machine.

The machine's speed drifts in phases of minutes (within one run the same page served 124 to
225 req/s in 3-second rounds, bench/results/20261204T150756Z.json), so one run of each, even
taken one after the other, compares the phases as much as the code. Many short runs taking
turns and the geometric mean of each pair's ratio do not: a phase slows both sides of a pair.
"""

from __future__ import annotations

import math
import random


def paired(this: list[float], other: list[float]) -> tuple[float, float, float]:
    """The geometric mean of this[i] / other[i], and its 95 % bootstrap interval."""
    ratios = [a / b for a, b in zip(this, other, strict=True)]

    def geomean(values: list[float]) -> float:
        return math.exp(sum(math.log(value) for value in values) / len(values))

    draw = random.Random(0)
    means = sorted(geomean(draw.choices(ratios, k=len(ratios))) for _ in range(2000))
    return geomean(ratios), means[50], means[1949]
