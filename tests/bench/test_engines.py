"""``ddbspec bench engines``: exercise times per engine, and the pool order they imply."""

from __future__ import annotations

from pathlib import Path

from ddbspec.bench import engines
from ddbspec.bench.engines import Cell

SPECS = Path(engines.SPECS)


def cell(seconds: float | None) -> Cell:
    """A cell that holds in ``seconds``, or (None) one whose specs were skipped."""
    return Cell([seconds], passed=4) if seconds is not None else Cell([1.0], skipped=4)


def test_exercises_are_the_spec_modules_in_the_workshops_order():
    names = [m.stem for m in engines.exercises()]
    assert names[0] == "test_capacity" and names[-1] == "test_streams"
    assert len(names) == 8 and not [n for n in names if n.endswith("_benchmark")]


def test_the_best_order_serves_every_exercise_from_its_fastest_capable_engine_first():
    cells = {
        "2 scan": {"fast": cell(2), "full": cell(5), "slow": cell(9)},
        "5 sparse": {"fast": cell(None), "full": cell(3), "slow": cell(4)},
    }
    ranked = engines.orders(cells, ("slow", "full", "fast"))
    assert ranked[0] == (("fast", "full", "slow"), 2, 5.0)
    assert engines.served(cells, ("slow", "fast", "full")) == (2, 13.0)
    assert engines.served(cells, ("fast",)) == (1, 2.0)  # sparse is served by none


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
