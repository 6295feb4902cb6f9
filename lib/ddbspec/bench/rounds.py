"""Ratios that hold on a noisy machine: the sides of a ratio timed in alternating rounds.

On a shared machine the load changes from one second to the next. Timed one after the other,
one side of a ratio takes a burst and the ratio moves. So each side's work is cut into parts
of a fraction of a second, and the sides take turns part by part (raw, loader, raw,
loader...): a burst lands on both. A round is seconds of each side's work; a burst that
still lands on one side moves one round, and the median of the rounds' ratios leaves it out.
The spread (min-max) of the rounds' ratios is kept with the median, to say how far to trust
it.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

MIN_SECONDS = 2.0  # the least work a side does in a round
# A part's items: a fraction of a second of writes, so that the sides alternate faster than
# the machine's load changes (measured here: whole sides of 2-5 s each varied 20-40% from one
# to the next, uncorrelated, where parts of 500 items cancel most of it).
PART_ITEMS = 500

MIN_CHANGE = 0.05  # of a median: a smaller move is below what the rounds resolve
T = TypeVar("T")


@dataclass(frozen=True)
class Ratio:
    """A ratio measured round by round: the median of the rounds, and their spread."""

    rounds: tuple[float, ...]
    target: float | None = None  # the least the median may be (None: measured only)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def low(self) -> float:
        return min(self.rounds)

    @property
    def high(self) -> float:
        return max(self.rounds)

    @property
    def under_target(self) -> bool:
        return self.target is not None and self.median < self.target

    def moved_from(self, baseline: Ratio) -> int:
        """-1 if this ratio dropped beyond both runs' spread from ``baseline``, 1 if it rose
        beyond it, else 0: beyond means every round of one run is below every round of the
        other, and the median moved by at least MIN_CHANGE."""
        if abs(self.median - baseline.median) < MIN_CHANGE * baseline.median:
            return 0
        if self.high < baseline.low:
            return -1
        return 1 if self.low > baseline.high else 0

    def __str__(self) -> str:
        """'0.95 (0.91-0.98)': the median and the rounds' spread."""
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"

    def as_json(self) -> dict[str, Any]:
        return {
            "median": round(self.median, 4),
            "min": round(self.low, 4),
            "max": round(self.high, 4),
            "rounds": [round(r, 4) for r in self.rounds],
            "target": self.target,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Ratio:
        rounds = tuple(float(r) for r in raw["rounds"])
        if not rounds:
            raise ValueError("no rounds")
        return cls(rounds, raw.get("target"))


@dataclass
class Rounds:
    """Each side's seconds, round by round; every side does the same work in a round."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    parts: int = 1  # each side's work, in parts that alternate
    repeat: int = 1  # passes over every part in a round

    def speed(self, side: str, over: str, target: float | None = None) -> Ratio:
        """``side``'s speed over ``over``'s, round by round (the same work: their seconds,
        inverted)."""
        pairs = zip(self.seconds[over], self.seconds[side], strict=True)
        return Ratio(tuple(reference / seconds for reference, seconds in pairs), target)

    def info(self) -> dict[str, Any]:
        """For a benchmark's extra_info: the rounds, their parts and passes, each side's
        seconds a round."""
        seconds = {side: [round(s, 4) for s in times] for side, times in self.seconds.items()}
        rounds = len(next(iter(self.seconds.values()), []))
        return {"rounds": rounds, "parts": self.parts, "repeat": self.repeat, "seconds": seconds}


def alternate(
    benchmark: Any,
    sides: dict[str, Callable[[int], object]],
    rounds: int,
    parts: int = 1,
    min_seconds: float = MIN_SECONDS,
) -> Rounds:
    """Times ``sides`` in turn, part by part (``side(part)`` does part ``part`` of
    ``parts``), round after round; pytest-benchmark times each round. A round passes over
    every part as often as makes the quickest side's share of it last ``min_seconds`` (one
    warm-up pass decides)."""
    passes = calls_for(sides, parts, min_seconds)
    measured = Rounds({side: [] for side in sides}, parts, passes)

    def one_round() -> None:
        passed = [one_pass(sides, parts) for _ in range(passes)]
        for side in sides:
            measured.seconds[side].append(sum(seconds[side] for seconds in passed))

    benchmark.pedantic(one_round, rounds=rounds)
    return measured


def calls_for(sides: dict[str, Callable[[int], object]], parts: int, min_seconds: float) -> int:
    """How many passes over the parts make the quickest side last ``min_seconds``; the pass
    that decides it is the sides' warm-up."""
    quickest = max(min(one_pass(sides, parts).values()), 1e-9)
    return max(1, math.ceil(min_seconds / quickest))


def one_pass(sides: dict[str, Callable[[int], object]], parts: int) -> dict[str, float]:
    """Each side's seconds over every part, the sides taking turns part by part."""
    spent = dict.fromkeys(sides, 0.0)
    for part in range(parts):
        for side, work in sides.items():
            start = time.perf_counter()
            work(part)
            spent[side] += time.perf_counter() - start
    return spent


def split(items: Sequence[T], count: int) -> list[Sequence[T]]:
    """``items`` in ``count`` consecutive parts (at least one), their sizes a row apart."""
    count = max(1, min(count, len(items)))
    bounds = [len(items) * i // count for i in range(count + 1)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


def parts_of(items: int) -> int:
    """How many parts make parts of about PART_ITEMS out of ``items`` items."""
    return max(1, round(items / PART_ITEMS))


def record(benchmark: Any, figures: Any, name: str, ratio: Ratio) -> None:
    """A ratio into the saved run (the benchmark's extra_info) and the run's summary."""
    benchmark.extra_info.setdefault("ratios", {})[name] = ratio.as_json()
    figures.record(
        f"{name} (rounds {ratio.low:.2f}-{ratio.high:.2f})",
        round(ratio.median, 2),
        ratio.target,
        at_least=ratio.target is not None,
    )
