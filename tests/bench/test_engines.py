"""``ddbspec bench engines``: exercise times per engine, and the pool order they imply."""

from __future__ import annotations

from pathlib import Path

from ddbspec.bench import engines
from ddbspec.bench.engines import Cell
from ddbspec.engines import registry

SPECS = Path(engines.SPECS)


def cell(seconds: float | None) -> Cell:
    """A cell that holds in ``seconds``, or (None) one whose specs were skipped."""
    return Cell([seconds], passed=4) if seconds is not None else Cell([1.0], skipped=4)


def test_exercises_are_the_spec_modules_in_the_workshops_order():
    names = [m.stem for m in engines.exercises()]
    assert names[0] == "test_capacity" and names[-1] == "test_streams"
    assert len(names) == 8 and not [n for n in names if n.endswith("_benchmark")]


def test_each_exercise_is_served_by_the_first_of_its_order_that_holds_it():
    cells = {
        "2 scan": {"fast": cell(2), "full": cell(5), "slow": cell(9)},
        "5 sparse": {"fast": cell(None), "full": cell(3), "slow": cell(4)},
    }
    assert engines.served(cells, lambda label: ("slow", "fast", "full")) == {
        "2 scan": "slow",
        "5 sparse": "slow",
    }
    assert engines.served(cells, lambda label: ("fast",)) == {"2 scan": "fast", "5 sparse": None}
    by_label = {"scan": ("fast",), "sparse": ("slow", "full")}
    assert engines.served(cells, by_label.__getitem__) == {"2 scan": "fast", "5 sparse": "slow"}
    assert [engines.fastest(row) for row in cells.values()] == ["fast", "full"]


def test_the_report_sets_the_pools_engine_beside_the_fastest(monkeypatch):
    cells = {
        "1 capacity": {"dynalite": cell(9), "ministack": cell(5)},
        "5 sparse": {"dynalite": cell(None), "ministack": cell(3)},
    }
    monkeypatch.setattr(registry, "FIRST", {})
    text = engines.report(cells, ("dynalite", "ministack"))
    assert "  1 capacity: ministack (the pool: dynalite)" in text
    assert "  5 sparse: ministack (the same)" in text
    assert text.endswith(
        "the pool serves 2 exercises in 12.0 s, the fastest engines 8.0 s (differs for 1 capacity)"
    )
    monkeypatch.setattr(registry, "FIRST", {"capacity": "ministack"})
    assert engines.report(cells, ("dynalite", "ministack")).endswith("8.0 s (the same)")


def test_a_cell_says_what_it_measured():
    assert str(cell(2.25)) == "2.2 s"
    assert str(cell(None)) == "cannot (4 skipped)"
    assert str(Cell([1.0], passed=3, failed=1)) == "1 failed"


def test_one_exercise_is_timed_on_an_engine_that_cannot_run_it(tmp_path):
    seconds, outcome = engines.measure(SPECS / "test_sparse.py", "dynalite", tmp_path)
    passed, skipped, failed = outcome
    assert (passed, failed) == (0, 0) and skipped >= 1  # dynalite has no online GSI
    assert seconds > 0


def test_a_run_that_wrote_no_report_counts_as_failed(tmp_path):
    assert engines.outcomes(tmp_path / "none.xml") == (0, 0, 1)
