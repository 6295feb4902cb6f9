"""``ddbspec bench feedback``: how long the README's commands take, and where the time goes.

Each command runs as a user types it, from the project's folder, ``--runs`` times (interleaved
with the others, so that a busy minute of the machine does not fall on one command only). It
prints the minimum, median and maximum wall-clock seconds of each, and the median of each
phase (``ddbspec.timings`` records them in the run): start-up and collection, engine start
and probe, table creation and loading (the specs' setup, engine start aside), the specs
themselves, and teardown (the specs' own, then the sweep and the engines' stop until pytest
has exited). Under xdist the setup, spec and teardown phases are summed over the workers.
Run it alone, with a warm cache (after one run of the suite): it measures the machine too.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ddbspec.timings import ENV

REPO = Path(__file__).resolve().parents[3]
# The README's commands (tests/bench/test_feedback.py holds them to it).
COMMANDS = {
    "one exercise": "pytest specs/ -k sparse",
    "the specs": "pytest",
    "specs and tests": "pytest specs tests -n 2",
}
PHASES = (
    "start-up and collection",
    "engine start and probe",
    "setup: tables and loading",
    "specs",
    "teardown",
)


@dataclass
class Run:
    """One run of a command: its wall-clock seconds, its phases, and how its tests ended."""

    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    outcome: str = ""
    failed: list[str] = field(default_factory=list)  # pytest's FAILED and ERROR lines

    @property
    def passed(self) -> bool:
        """Whether its tests ran and none failed (an exit without timings did not pass)."""
        return bool(self.phases) and not any(
            word in self.outcome for word in ("failed", "error", "no tests")
        )


def phases(found: dict, began: float, ended: float) -> dict[str, float]:
    """The recorded marks and sums as the report's phases, in seconds."""
    marks, seconds = found["marks"], found["seconds"]
    engines = seconds.get("engines", 0.0)
    return {
        "start-up and collection": marks.get("began", began) - began,
        "engine start and probe": engines,
        "setup: tables and loading": max(0.0, seconds.get("setup", 0.0) - engines),
        "specs": seconds.get("call", 0.0),
        "teardown": seconds.get("teardown", 0.0) + ended - marks.get("finished", ended),
    }


def run(command: str, folder: Path) -> Run:
    """Run ``command`` once (``pytest`` as this interpreter's) and read what it recorded."""
    argv = shlex.split(command)
    if argv[0] == "pytest":
        argv = [sys.executable, "-m", "pytest", *argv[1:]]
    timings = folder / "timings.json"
    timings.unlink(missing_ok=True)
    began = time.time()
    done = subprocess.run(
        argv,
        cwd=REPO,
        env={**os.environ, ENV: str(timings)},
        check=False,
        capture_output=True,
        text=True,
    )
    ended = time.time()
    if not timings.exists():
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        return Run(ended - began, outcome=f"exit {done.returncode}, no timings: {last[0]}")
    found = json.loads(timings.read_text())
    counts = ", ".join(f"{n} {k}" for k, n in found["outcomes"].items() if k != "deselected")
    # which tests did not pass, as pytest's short summary names them: a timing run that
    # fails is a fact to chase, not a number to drop
    failed = [ln for ln in done.stdout.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    return Run(ended - began, phases(found, began, ended), counts or "no tests", failed)


def measure(
    commands: dict[str, str], runs: int, say: Callable[[str], None] = print
) -> dict[str, list[Run]]:
    """Every command ``runs`` times, round after round."""
    found: dict[str, list[Run]] = {label: [] for label in commands}
    with tempfile.TemporaryDirectory(prefix="ddbspec-bench-feedback-") as folder:
        for round_ in range(runs):
            for label, command in commands.items():
                one = run(command, Path(folder))
                found[label].append(one)
                say(f"  run {round_ + 1}: {command}: {one.seconds:.1f} s ({one.outcome})")
                for line in one.failed:
                    say(f"    {line}")
    return found


def report(commands: dict[str, str], found: dict[str, list[Run]]) -> str:
    """A Markdown table: each command's wall-clock spread, then its phases' medians."""
    head = ["command", "runs", "min", "median", "max", *PHASES, "tests (last run)"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---|" * (len(head) - 1)]
    for label, runs in found.items():
        seconds = [r.seconds for r in runs]
        spread = [f"{min(seconds):.1f} s", f"{statistics.median(seconds):.1f} s"]
        spread.append(f"{max(seconds):.1f} s")
        medians = [f"{statistics.median(r.phases.get(p, 0.0) for r in runs):.1f} s" for p in PHASES]
        row = [f"`{commands[label]}`", str(len(runs)), *spread, *medians, runs[-1].outcome]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str], prog: str = "ddbspec bench feedback") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(COMMANDS),
        metavar="LABEL",
        help=f"only these of the README's commands: {', '.join(map(repr, COMMANDS))}",
    )
    parser.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="TEXT",
        help="time this command too (repeatable), e.g. 'pytest specs tests -n 2'",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    chosen = {k: v for k, v in COMMANDS.items() if not args.only or k in args.only}
    chosen |= {text: text for text in args.command}
    found = measure(chosen, args.runs)
    print(report(chosen, found))
    failed = [r.outcome for runs in found.values() for r in runs if not r.passed]
    if failed:  # a run that failed measured something else than the suite
        print(f"{len(failed)} runs did not pass: " + "; ".join(failed))
    return 1 if failed else 0
