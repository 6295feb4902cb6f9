"""How much an alternating benchmark measures: its rounds, and how many of its parts.

The defaults (7 rounds over every part) are what saved runs and CI compare: noise alone
moves 7 rounds beyond 7 once in 3,432 comparisons. ``--bench-rounds`` and ``--bench-parts``
make a quicker run that still shows a large change (a loader slowed twofold, as
tests/bench/test_gate.py slows it) at the price of a wider spread; the saved run records
both (its ``rounds``, ``parts`` and ``items``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TypeVar

ROUNDS = 7
T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """The rounds of each ratio, and the parts measured (None: every part)."""

    rounds: int = ROUNDS
    parts: int | None = None

    def cut(self, parts: list[T]) -> list[T]:
        """The parts measured: the first ``self.parts`` of them, a smaller table."""
        return parts[: self.parts]


def count(text: str) -> int:
    """--bench-rounds, --bench-parts: a whole number of at least 1, refused as argparse
    refuses a bad value (its message names the option)."""
    try:
        number = int(text)
    except ValueError:
        number = 0  # refused below, naming what was typed
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number
