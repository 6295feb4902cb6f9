"""Ratios measured in alternating rounds, on a clock the test drives (no engine, no sleep)."""

from __future__ import annotations

import math
import statistics

import pytest

from ddbspec.bench import rounds
from ddbspec.bench.rounds import Ratio


class Clock:
    """perf_counter for the measured code: it moves only when a side does its work."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Benchmark:
    """pytest-benchmark's pedantic as it runs a round: setup, then the timed target."""

    def __init__(self) -> None:
        self.extra_info: dict = {}

    def pedantic(self, target, rounds=1):
        for _ in range(rounds):
            target()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(rounds.time, "perf_counter", fake)
    return fake


def side(clock: Clock, name: str, seconds, calls: list[tuple[str, int]]):
    """A side whose part takes ``seconds(call number)`` on the clock, logged in ``calls``."""

    def work(part: int) -> None:
        clock.now += seconds(sum(1 for c, _ in calls if c == name))
        calls.append((name, part))

    return work


def test_the_sides_take_turns_part_by_part_round_after_round(clock):
    calls: list[tuple[str, int]] = []
    sides = {
        "raw": side(clock, "raw", lambda n: 0.25, calls),
        "loader": side(clock, "loader", lambda n: 0.3125, calls),
    }
    parts, count = 3, 5
    measured = rounds.alternate(Benchmark(), sides, rounds=count, parts=parts, min_seconds=2.0)
    passes = math.ceil(2.0 / (parts * 0.25))  # the quickest side's warm-up pass: 0.75 s
    assert (measured.parts, measured.repeat) == (parts, passes)
    one_pass = [(s, p) for p in range(parts) for s in ("raw", "loader")]
    assert calls == one_pass + one_pass * passes * count
    share = passes * parts
    assert measured.seconds == {"raw": [share * 0.25] * count, "loader": [share * 0.3125] * count}
    assert measured.speed("loader", over="raw").rounds == (0.25 / 0.3125,) * count


def test_a_burst_of_load_on_one_side_moves_one_round_not_the_median(clock):
    burst_call = 3  # the loader's fourth call (the warm-up is its first) runs three times slower
    calls: list[tuple[str, int]] = []
    sides = {
        "raw": side(clock, "raw", lambda n: 2.0, calls),
        "loader": side(clock, "loader", lambda n: 6.0 if n == burst_call else 2.0, calls),
    }
    ratio = rounds.alternate(Benchmark(), sides, rounds=7).speed("loader", over="raw")
    assert ratio.median == 1.0
    assert ratio.low == pytest.approx(2.0 / 6.0)
    assert sorted(ratio.rounds)[1:] == [1.0] * 6


def test_the_rounds_and_each_sides_seconds_go_to_extra_info(clock):
    calls: list[tuple[str, int]] = []
    sides = {
        "a": side(clock, "a", lambda n: 3.0, calls),
        "b": side(clock, "b", lambda n: 1.5, calls),
    }
    measured = rounds.alternate(Benchmark(), sides, rounds=3)
    info = measured.info()
    assert info["rounds"] == 3
    assert (info["parts"], info["repeat"]) == (1, measured.repeat)
    assert info["seconds"] == measured.seconds


@pytest.mark.parametrize(("length", "count"), [(1000, 8), (4000, 32), (2000, 3), (2, 5)])
def test_split_cuts_consecutive_parts_a_row_apart(length, count):
    items = list(range(length))
    cut = rounds.split(items, count)
    assert [i for part in cut for i in part] == items
    assert len(cut) == min(count, length)
    assert max(map(len, cut)) - min(map(len, cut)) <= 1


def test_a_ratio_is_the_median_of_its_rounds_with_their_spread_and_round_trips():
    measured = (0.93, 1.02, 0.88, 0.97, 1.10)
    ratio = Ratio(measured, target=0.9)
    assert ratio.median == statistics.median(measured)
    assert (ratio.low, ratio.high) == (min(measured), max(measured))
    assert str(ratio) == f"{ratio.median:.2f} ({min(measured):.2f}-{max(measured):.2f})"
    assert Ratio.from_json(ratio.as_json()) == ratio


def test_record_saves_the_ratio_and_shows_it_in_the_summary():
    class Figures:
        def __init__(self) -> None:
            self.rows: list[tuple] = []

        def record(self, name, measured, expected, at_least=False):
            self.rows.append((name, measured, expected, at_least))

    bench, figures, ratio = Benchmark(), Figures(), Ratio((0.8, 0.95, 1.0), target=0.9)
    rounds.record(bench, figures, "loader / raw", ratio)
    assert bench.extra_info["ratios"]["loader / raw"] == ratio.as_json()
    [(name, measured, target, at_least)] = figures.rows
    assert name.startswith("loader / raw") and f"{ratio.low:.2f}-{ratio.high:.2f}" in name
    assert (measured, target, at_least) == (round(ratio.median, 2), 0.9, True)
