"""``ddbspec bench engines``: each exercise's time on each engine, the fastest that holds it,
and whether the ``auto`` pool serves it from that one.

Each exercise runs on each engine as a user runs one (``pytest specs/test_sparse.py --engine
ministack``): a pytest of its own, timed from start to exit, engine start included. A cell
holds when every spec of the exercise passed there. The pool serves each exercise from the
first engine of its order (``registry.pool_for``) that holds it; the report sets that engine
beside the fastest one that holds it. Times are wall-clock seconds on this machine: run it
alone.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ddbspec.engines import registry
from ddbspec.summary import exercise_of, label_of

SPECS = Path(__file__).resolve().parents[3] / "specs"
ENGINES = ("dynalite", "ministack", "moto")
COUNTS = ("tests", "skipped", "failures", "errors")


@dataclass
class Cell:
    """One exercise on one engine: its times (one per round) and its specs' outcomes."""

    seconds: list[float] = field(default_factory=list)
    passed: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def holds(self) -> bool:
        return self.passed > 0 and not (self.skipped or self.failed)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def __str__(self) -> str:
        if self.failed:
            return f"{self.failed} failed"
        if not self.holds:
            return f"cannot ({self.skipped} skipped)"
        return f"{self.median:.1f} s"


def exercises(specs: Path = SPECS) -> list[Path]:
    """The spec modules, one per exercise, in the workshop's order (benchmarks aside)."""
    modules = [m for m in specs.glob("test_*.py") if not m.stem.endswith("_benchmark")]
    return sorted(modules, key=lambda m: exercise_of(str(m.relative_to(specs.parent))))


def measure(module: Path, engine: str, folder: Path) -> tuple[float, tuple[int, int, int]]:
    """One timed run of ``module`` on ``engine``: seconds, and its outcomes from JUnit XML."""
    report = folder / f"{engine}-{module.stem}.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(module)]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--engine", engine, f"--junit-xml={report}"],
        cwd=SPECS.parent,
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    return seconds, outcomes(report)


def outcomes(report: Path) -> tuple[int, int, int]:
    """Passed, skipped and failed (errors included) in a JUnit XML report; a run that wrote
    none (pytest refused its options, say) counts as one failure."""
    if not report.exists():
        return 0, 0, 1
    suite = ElementTree.parse(report).getroot().find("testsuite")
    got = {k: int(suite.get(k, 0)) if suite is not None else 0 for k in COUNTS}
    failed = got["failures"] + got["errors"]
    return got["tests"] - got["skipped"] - failed, got["skipped"], failed


def table(
    engines: Iterable[str], rounds: int, say: Callable[[str], None] = print
) -> dict[str, dict[str, Cell]]:
    """Every exercise on every engine, ``rounds`` times, interleaved so that a busy minute of
    the machine does not fall on one engine only."""
    cells: dict[str, dict[str, Cell]] = {}
    with tempfile.TemporaryDirectory(prefix="ddbspec-bench-engines-") as folder:
        for round_, module in itertools.product(range(rounds), exercises()):
            row = cells.setdefault(exercise_of(f"specs/{module.name}"), {})
            for engine in engines:
                seconds, outcome = measure(module, engine, Path(folder))
                cell = row.setdefault(engine, Cell())
                cell.seconds.append(seconds)
                cell.passed, cell.skipped, cell.failed = outcome
                say(f"  round {round_ + 1}: {module.stem} on {engine}: {seconds:.1f} s ({cell})")
    return cells


def served(
    cells: dict[str, dict[str, Cell]], order: Callable[[str], tuple[str, ...]]
) -> dict[str, str | None]:
    """The engine that serves each exercise when ``order(label)`` is its pool (None if none
    holds it), by exercise."""
    return {
        exercise: next((e for e in order(label_of(exercise)) if e in row and row[e].holds), None)
        for exercise, row in cells.items()
    }


def fastest(row: dict[str, Cell]) -> str | None:
    """The engine that holds the exercise in the least time, if any does."""
    held = [e for e, cell in row.items() if cell.holds]
    return min(held, key=lambda e: row[e].median) if held else None


def total(cells: dict[str, dict[str, Cell]], engines: dict[str, str | None]) -> float:
    return sum(cells[x][e].median for x, e in engines.items() if e is not None)


def report(cells: dict[str, dict[str, Cell]], engines: tuple[str, ...]) -> str:
    lines = ["| exercise | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for exercise, row in cells.items():
        lines.append(f"| {exercise} | " + " | ".join(str(row[e]) for e in engines) + " |")
    pool = served(cells, lambda x: tuple(e for e in registry.pool_for(x) if e in engines))
    best = {exercise: fastest(row) for exercise, row in cells.items()}
    lines += ["", "each exercise's fastest engine, and the one the suite's pool serves it from:"]
    for exercise, engine in best.items():
        same = "the same" if pool[exercise] == engine else f"the pool: {pool[exercise]}"
        lines.append(f"  {exercise}: {engine} ({same})")
    differ = [x for x in best if pool[x] != best[x]]
    verdict = "the same" if not differ else f"differs for {', '.join(differ)}"
    lines.append(
        f"the pool serves {sum(e is not None for e in pool.values())} exercises in "
        f"{total(cells, pool):.1f} s, the fastest engines {total(cells, best):.1f} s ({verdict})"
    )
    return "\n".join(lines)


def main(argv: list[str], prog: str = "ddbspec bench engines") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("engines", nargs="*", default=list(ENGINES), metavar="ENGINE")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each cell (median)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.engines) - set(registry.ENGINES))
    if unknown or args.rounds < 1:
        parser.error(f"unknown engines {unknown}" if unknown else "--rounds must be 1 or more")
    cells = table(args.engines, args.rounds)
    print(report(cells, tuple(args.engines)))
    return 0
