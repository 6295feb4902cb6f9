"""One cell of the matrix: one exercise on one engine, read from that engine's JUnit report.

The verdict, worst first:
- error: a spec could not run its check (the engine failed to start or answer; a setup error);
- wrong: a spec's check failed; the cell names the first figure that differs, measured
  against the model, and its spec;
- cannot run: a spec was skipped for a capability the engine lacks, named as probed;
- holds: every spec of the exercise passed.

Beside the verdict, each cell says how the engine meters: whether its own ConsumedCapacity
matched DynamoDB's rules on every request the exercise metered, or the first that differed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ddbspec.summary import exercise_of, holds
from ddbspec.targets import REMEMBERED

VERDICTS = ("error", "wrong", "cannot run", "holds")  # worst first
METERS_LIKE_DYNAMODB = "meters like DynamoDB"
GATEWAY = "[gateway]"  # exercise 1's specs, run through the capacity gateway


@dataclass(frozen=True)
class Known:
    """A divergence whose cause is understood: on these engines (words of a column's name or
    its version), in an exercise (or any), a cell whose detail says ``says``."""

    engines: tuple[str, ...]
    says: str
    cause: str
    exercise: str = ""

    def explains(self, engine: str, exercise: str, detail: str) -> bool:
        named = set(engine.replace(":", " ").split()) & set(self.engines)
        return bool(named) and self.exercise in ("", exercise) and self.says in detail


DYNALITES = ("dynalite", "dynalite-npm")
KNOWN = (
    Known(
        DYNALITES,
        "lacks online_gsi",
        "dynalite 4.0.0 accepts UpdateTable's new index and ignores it: DescribeTable "
        "never lists it",
    ),
    Known(
        ("dynalite-npm",),
        "not in the index",
        "its index entries are keyed on 24 bits of a hash of the table key, and colliding "
        "entries overwrite each other (the suite's INDEX_KEYS fix)",
    ),
)


@dataclass
class Cell:
    """An exercise on an engine: its verdict, what decides it, and every figure measured."""

    verdict: str
    detail: str = ""  # the first figure that differs, the capability, the error
    spec: str = ""  # the spec that decided it
    cause: str = ""  # a known divergence, in one line
    counts: dict[str, int] = field(default_factory=dict)  # passed, failed, errors, skipped
    figures: list[dict[str, Any]] = field(default_factory=list)
    costs: list[dict[str, Any]] = field(default_factory=list)  # each way's, by the rules
    metering: str = ""  # METERS_LIKE_DYNAMODB, the first request that differs, or nothing metered

    def short(self) -> str:
        """The cell as the table shows it."""
        text = self.verdict if not self.detail else f"{self.verdict}: {self.detail}"
        return f"{text} ({self.cause})" if self.cause else text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(**data)


@dataclass
class Case:
    """One spec's outcome in the report."""

    exercise: str
    spec: str
    outcome: str  # passed, failed, error, skipped
    message: str
    figures: list[dict[str, Any]]
    engines: list[str]
    costs: list[dict[str, Any]] = field(default_factory=list)


def cases(report: Path) -> list[Case]:
    """Every testcase of a JUnit report, in the order the specs ran."""
    root = ElementTree.parse(report).getroot()
    return [_case(testcase) for testcase in root.iter("testcase")]


def _case(testcase: ElementTree.Element) -> Case:
    path = testcase.get("classname", "").replace(".", "/") + ".py"
    spec = testcase.get("name", "")
    outcome, message = "passed", ""
    for tag, name in (("error", "error"), ("failure", "failed"), ("skipped", "skipped")):
        found = testcase.find(tag)
        if found is not None:
            outcome, message = name, found.get("message", "") or (found.text or "")
            break
    props = [(p.get("name", ""), p.get("value", "")) for p in testcase.iter("property")]
    figures = [json.loads(v) for k, v in props if k == "ddbspec.figure"]
    engines = [v for k, v in props if k == "ddbspec.engine"]
    costs = [json.loads(v) for k, v in props if k == "ddbspec.cost"]
    return Case(exercise_of(path), spec, outcome, message.strip(), figures, engines, costs)


def cells(report: Path, column: str) -> tuple[dict[str, Cell], str]:
    """Each exercise's cell, and the engine's version as the specs recorded it."""
    by_exercise: dict[str, list[Case]] = {}
    for case in cases(report):
        by_exercise.setdefault(case.exercise, []).append(case)
    version = ", ".join(sorted({v for cs in by_exercise.values() for c in cs for v in c.engines}))
    found = {ex: verdict(cs) for ex, cs in by_exercise.items()}
    for exercise, cell in found.items():
        engine = f"{column} {version}"
        why = (k.cause for k in KNOWN if k.explains(engine, exercise, cell.detail))
        cell.cause = (
            next(why, "") if cell.verdict != "holds" else _through_gateway(by_exercise[exercise])
        )
    return found, version


def _through_gateway(cases: list[Case]) -> str:
    """Exercise 1 holds on a local engine through the suite's capacity gateway: the figures
    are the gateway's throttling, not the engine's (no local engine throttles)."""
    if cases and all(GATEWAY in c.spec for c in cases if c.outcome != "skipped"):
        return "throttled by the suite's capacity gateway: the engine itself never throttles"
    return ""


def verdict(cases: list[Case]) -> Cell:
    """The exercise's cell: its worst outcome decides, with what its first such spec says."""
    counts = {
        o: sum(c.outcome == o for c in cases) for o in ("passed", "failed", "error", "skipped")
    }
    figures = _unique([f for c in cases for f in c.figures])
    costs = list({row["approach"]: row for c in cases for row in c.costs}.values())
    cell = Cell("holds", counts=counts, figures=figures, costs=costs, metering=metering(costs))
    if error := next((c for c in cases if c.outcome == "error"), None):
        cell.verdict, cell.detail, cell.spec = "error", _first_line(error.message), error.spec
    elif failed := next((c for c in cases if c.outcome == "failed"), None):
        cell.verdict, cell.detail, cell.spec = "wrong", _differs(failed), failed.spec
    elif skipped := next((c for c in cases if c.outcome == "skipped"), None):
        cell.verdict, cell.detail, cell.spec = "cannot run", _lacks(skipped.message), skipped.spec
    return cell


def metering(costs: list[dict[str, Any]]) -> str:
    """Whether the engine's own ConsumedCapacity matched the rules on every request metered:
    METERS_LIKE_DYNAMODB, or the first that differed, with its way; nothing if no request
    was metered (a way priced by the rules alone asks no engine)."""
    metered = [row for row in costs if row.get("measured", True)]
    if not metered:
        return ""
    differs = (f"{row['approach']}: {row['differs']}" for row in metered if row.get("differs"))
    return next(differs, METERS_LIKE_DYNAMODB)


def _differs(case: Case) -> str:
    """The first figure of the spec that differs from the model: 'name: measured X, model Y';
    else the failure's own first line."""
    for row in case.figures:
        if row.get("expected") is not None and not holds(row):
            return f"{row['name']}: measured {row['measured']}, model {row['expected']}"
    return _first_line(case.message)


def _lacks(message: str) -> str:
    """A skip's reason as the probe found it, without the engine's name (the column says it),
    pytest's prefix, or whether the probe was remembered: "lacks online_gsi (...)"."""
    line = _first_line(message.removeprefix("Skipped: ")).replace(f" {REMEMBERED}", "")
    engine, lacks, rest = line.partition(" lacks ")
    return f"lacks {rest}" if lacks and " " not in engine else line


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= 300 else line[:297] + "..."


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures, each once (a spec records a figure in each phase that reads it)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen[row["name"]] = row
    return list(seen.values())


def failed_run(exercises: list[str], message: str) -> dict[str, Cell]:
    """A run that made no report (pytest refused to start: an endpoint that does not answer,
    a bad option): every exercise is an error, with the run's own words."""
    return {ex: Cell("error", _first_line(message)) for ex in exercises}


@dataclass
class Matrix:
    """Every cell, by exercise then engine, and what the runs were (versions, scale, commit)."""

    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)  # version, options, exit
    about: dict[str, Any] = field(default_factory=dict)  # scale, commit, made, -k, left out

    def exercises(self) -> list[str]:
        return sorted(self.cells, key=lambda e: (not e[0].isdigit(), e))

    def cell(self, exercise: str, engine: str) -> Cell | None:
        return self.cells.get(exercise, {}).get(engine)

    def to_json(self) -> dict[str, Any]:
        cells = {ex: {e: c.to_json() for e, c in row.items()} for ex, row in self.cells.items()}
        return {"about": self.about, "engines": self.engines, "cells": cells}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Matrix:
        cells = {
            ex: {e: Cell.from_json(c) for e, c in row.items()} for ex, row in data["cells"].items()
        }
        return cls(cells, data["engines"], data.get("about", {}))
