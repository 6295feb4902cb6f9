"""Ratios that hold on a noisy machine: the sides of a ratio timed in alternating rounds.

On a shared machine a burst of load lasts seconds. Timed one after the other, one side of a
ratio takes the burst and the ratio moves. Timed in rounds (raw, loader, raw, loader...), each
side doing seconds of work a round, a burst lands on both sides of a round or on one round
only, and the median of the rounds' ratios leaves that round out. The spread (min-max) of
the rounds' ratios is kept with the median, to say how far to trust it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MIN_SECONDS = 2.0  # the least work a side does in a round


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
        return cls(tuple(raw["rounds"]), raw.get("target"))


@dataclass
class Rounds:
    """Each side's seconds, round by round; every side does the same work in a round."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    repeat: int = 1  # calls of each side's work in a round

    def speed(self, side: str, over: str, target: float | None = None) -> Ratio:
        """``side``'s speed over ``over``'s, round by round (the same work: their seconds,
        inverted)."""
        pairs = zip(self.seconds[over], self.seconds[side], strict=True)
        return Ratio(tuple(reference / seconds for reference, seconds in pairs), target)

    def info(self) -> dict[str, Any]:
        """For a benchmark's extra_info: the rounds, the calls a round, each side's seconds."""
        seconds = {side: [round(s, 4) for s in times] for side, times in self.seconds.items()}
        rounds = len(next(iter(self.seconds.values()), []))
        return {"rounds": rounds, "repeat": self.repeat, "seconds": seconds}


def alternate(
    benchmark: Any,
    sides: dict[str, Callable[[], object]],
    rounds: int,
    min_seconds: float = MIN_SECONDS,
) -> Rounds:
    """Times ``sides`` in turn, in their order, round after round. The last side is the one
    pytest-benchmark times (its seconds are the saved benchmark's); the others run in its
    setup, timed here. Each side's work is called as often as makes the quickest side's
    round last ``min_seconds`` (one warm-up call of each side decides)."""
    repeat = calls_for(sides, min_seconds)
    measured = Rounds({side: [] for side in sides}, repeat)
    *references, last = sides

    def timed(side: str) -> None:
        start = time.perf_counter()
        for _ in range(repeat):
            sides[side]()
        measured.seconds[side].append(time.perf_counter() - start)

    def references_round() -> None:
        for side in references:
            timed(side)

    benchmark.pedantic(timed, args=(last,), setup=references_round, rounds=rounds)
    return measured


def calls_for(sides: dict[str, Callable[[], object]], min_seconds: float) -> int:
    """How many calls of each side's work make the quickest side last ``min_seconds``; the
    calls that decide it are the sides' warm-up."""
    quickest = math.inf
    for work in sides.values():
        start = time.perf_counter()
        work()
        quickest = min(quickest, time.perf_counter() - start)
    return max(1, math.ceil(min_seconds / max(quickest, 1e-9)))


def record(benchmark: Any, figures: Any, name: str, ratio: Ratio) -> None:
    """A ratio into the saved run (the benchmark's extra_info) and the run's summary."""
    benchmark.extra_info.setdefault("ratios", {})[name] = ratio.as_json()
    figures.record(
        f"{name} (rounds {ratio.low:.2f}-{ratio.high:.2f})",
        round(ratio.median, 2),
        ratio.target,
        at_least=ratio.target is not None,
    )
