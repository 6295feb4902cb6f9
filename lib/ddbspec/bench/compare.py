"""``ddbspec bench compare``: saved runs side by side by their ratios, a chart, and a gate.

pytest-benchmark compares seconds, which on a shared machine say more about the machine's
load than about the code. The ratios do not: each is measured in alternating rounds on one
engine (``ddbspec.bench.rounds``). A ratio has moved when it moved beyond the runs' own
spread (``Ratio.moved_from``); noise alone does that once in 3,432 comparisons of seven
rounds against seven. The gate (``--gate``) fails a run whose ratio is under its target or
dropped so from the baseline (the first run named), and never on seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ddbspec.bench import chart, runs
from ddbspec.bench.rounds import Ratio
from ddbspec.bench.runs import Run
from ddbspec.errors import SavedRunError

MARKS = {-1: "v", 1: "^", 0: " "}
LEGEND = (
    "median of the rounds (their min-max); v dropped beyond the runs' spread from the "
    "baseline, ^ rose beyond it, ! under its target"
)


def failures(baseline: Run, run: Run) -> list[str]:
    """Why the gate fails ``run`` against ``baseline``: a ratio under its target, dropped
    beyond the spread, or missing (its benchmark failed or was not selected)."""
    found = []
    for name, before in baseline.ratios.items():
        ratio = run.ratios.get(name)
        if ratio is None:
            found.append(f"run {run.number} has no {name!r} (run {baseline.number} has)")
        elif ratio.moved_from(before) < 0:
            found.append(
                f"run {run.number}: {name} dropped to {ratio} from {before} in run "
                f"{baseline.number}, beyond both runs' spread"
            )
    for name, ratio in run.ratios.items():
        if ratio.under_target:
            found.append(f"run {run.number}: {name} {ratio} is under its target {ratio.target}")
    return found


def table(compared: list[Run]) -> list[str]:
    """Each ratio across the runs, side by side, each later run marked against the first."""
    baseline = compared[0]
    names = runs.ratio_names(compared)
    width = max(map(len, names), default=10)
    lines = [
        f"{'ratio':<{width}}  target  " + "".join(f"{r.number:<20}" for r in compared).rstrip()
    ]
    for name in names:
        target = runs.target_of(compared, name)
        cells = [cell(baseline.ratios.get(name), run.ratios.get(name)) for run in compared]
        shown = "-" if target is None else f">= {target}"
        lines.append(f"{name:<{width}}  {shown:<6}  " + "".join(cells).rstrip())
    return lines


def cell(baseline: Ratio | None, ratio: Ratio | None) -> str:
    """'0.95 (0.91-0.98) v!' in a column 20 wide."""
    if ratio is None:
        return f"{'-':<20}"
    mark = MARKS[ratio.moved_from(baseline)] if baseline is not None else " "
    return f"{ratio!s} {mark}{'!' if ratio.under_target else ' '}".ljust(20)


def compare(compared: list[Run], chart_path: Path, gate: bool) -> int:
    """Prints the comparison, draws the chart; with ``gate``, 1 if a later run fails it."""
    runs.comparable(compared)
    baseline = compared[0]
    if gate and len(compared) < 2:
        raise SavedRunError("--gate needs a baseline and a run to hold against it: name two runs")
    if gate and not baseline.ratios:
        raise SavedRunError(
            f"the baseline, run {baseline.number} ({baseline.path}), saved no ratios (were its "
            "benchmarks deselected?): there is nothing to gate against"
        )
    plural = "s" if len(compared) > 1 else ""
    print(f"{len(compared)} run{plural} at scale {baseline.scale}; baseline {baseline.number}")
    for run in compared:
        print(f"  {run.header}")
    print()
    print("\n".join(table(compared)))
    print(LEGEND)
    print(f"chart: {chart.draw(compared, chart_path)}")
    if not gate:
        return 0
    failed = [problem for run in compared[1:] for problem in failures(baseline, run)]
    if failed:
        print("gate: FAILED\n  " + "\n  ".join(failed))
        return 1
    held = compared[1:]
    print(
        f"gate: passed (run{'s' if len(held) > 1 else ''} {', '.join(r.number for r in held)} "
        f"against {baseline.number}: every ratio at its target, none dropped beyond its spread)"
    )
    return 0


def storage(text: str) -> Path:
    """--storage, as pytest-benchmark's --benchmark-storage spells it (file:// optional)."""
    return Path(text.removeprefix("file://"))


def main(argv: list[str], prog: str = "ddbspec bench") -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description="Saved benchmark runs compared by their ratios, not seconds."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compared = commands.add_parser(
        "compare",
        help="each ratio across saved runs, side by side, drawn; --gate fails a regression",
        description="Prints each ratio of the saved runs side by side, marks a move beyond "
        "the runs' own spread, refuses runs of different engines or scales, and draws the "
        "ratios over the runs as a PNG.",
    )
    compared.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="a saved run's number (3 or 0003) or its JSON file; the first is the baseline "
        "(default: every run in the storage, oldest first)",
    )
    compared.add_argument(
        "--storage",
        type=storage,
        default=runs.STORAGE,
        help="pytest-benchmark's storage, as its --benchmark-storage (default: .benchmarks)",
    )
    compared.add_argument("--chart", type=Path, help="the PNG (default: STORAGE/ratios.png)")
    compared.add_argument(
        "--gate",
        action="store_true",
        help="exit 1 if a run after the first has a ratio under its target or dropped beyond "
        "its spread from the first (never on seconds)",
    )
    args = parser.parse_args(argv)
    try:
        found = runs.find(args.storage, args.runs)
        return compare(found, args.chart or args.storage / "ratios.png", args.gate)
    except SavedRunError as error:
        print(f"{prog} {args.command}: {error}", file=sys.stderr)
        return 2
