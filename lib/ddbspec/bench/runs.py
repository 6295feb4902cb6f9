"""Saved benchmark runs, read back from pytest-benchmark's own storage.

pytest-benchmark saves a run (``--benchmark-autosave``) as ``STORAGE/<machine>/NNNN_*.json``.
A run is named on the command line as pytest-benchmark's ``--benchmark-compare`` names it,
by its number (``3`` or ``0003``), or by the path of its file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ddbspec.bench import describe
from ddbspec.bench.rounds import Ratio
from ddbspec.errors import SavedRunError

STORAGE = Path(".benchmarks")  # pytest-benchmark's default --benchmark-storage
SAVE = "pytest -m benchmark -n 0 --benchmark-autosave"


@dataclass(frozen=True)
class Run:
    """A saved run: where it ran and at which scale, and each ratio with its engine."""

    path: Path
    number: str  # '0003', or the file's name for a file outside the storage
    saved: str  # when, as pytest-benchmark wrote it (ISO 8601, UTC)
    commit: str  # the short commit, '+' when the work tree had changes
    scale: int
    ratios: dict[str, Ratio]
    engines: dict[str, str]  # ratio -> the engine that served its benchmark ('dynalite 4.0.0')
    items: dict[str, int | None]  # ratio -> the items its benchmark wrote or read (None: unsaid)
    workers: dict[str, int]  # benchmark -> the worker count it measured with

    @property
    def header(self) -> str:
        """'0003  2026-12-01 20:40  dd437c2+  dynalite 4.0.0'"""
        served = ", ".join(sorted(set(self.engines.values()))) or "no ratios saved"
        workers = ", ".join(f"{name} {count}" for name, count in self.workers.items())
        when = self.saved[:16].replace("T", " ")
        return f"{self.number}  {when}  {self.commit}  {served}" + (
            f"; workers: {workers}" if workers else ""
        )

    @classmethod
    def read(cls, path: Path) -> Run:
        """The run saved in ``path``; a SavedRunError says why it cannot be read."""
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SavedRunError(f"cannot read the saved run {path}: {error}") from None
        ours = saved.get("ddbspec") if isinstance(saved, dict) else None
        if not isinstance(ours, dict) or ours.get("format") != describe.FORMAT:
            raise SavedRunError(
                f"{path} does not say which engine and scale it measured (no ddbspec block "
                f"of format {describe.FORMAT}: saved by another suite or an older ddbspec); "
                f"save a run again with {SAVE}"
            )
        ratios, engines, workers, items = {}, {}, {}, {}
        for bench in saved.get("benchmarks", []):
            extra = bench.get("extra_info", {})
            if "workers" in extra:
                workers[bench.get("name", "?").removeprefix("test_")] = extra["workers"]
            for name, raw in extra.get("ratios", {}).items():
                try:
                    ratios[name] = Ratio.from_json(raw)
                except (KeyError, TypeError, ValueError) as error:
                    raise SavedRunError(
                        f"{path}: the ratio {name!r} of {bench.get('name')} is not a ratio as "
                        f"ddbspec saves one ({type(error).__name__}: {error}); save the run "
                        f"again with {SAVE}"
                    ) from None
                engines[name] = extra.get("engine", "?")
                items[name] = extra.get("items")
        commit = saved.get("commit_info", {})
        return cls(
            path=path,
            number=path.name.split("_")[0] if path.name[:4].isdigit() else path.name,
            saved=saved.get("datetime", "?"),
            commit=(commit.get("id") or "?")[:7] + ("+" if commit.get("dirty") else ""),
            scale=ours["scale"],
            ratios=ratios,
            engines=engines,
            items=items,
            workers=workers,
        )


def ratio_names(runs: list[Run]) -> list[str]:
    """Every ratio the runs hold, in the order they first appear."""
    return list(dict.fromkeys(name for run in runs for name in run.ratios))


def target_of(runs: list[Run], name: str) -> float | None:
    """The ratio's target, as the first run that has the ratio saved it."""
    return next((run.ratios[name].target for run in runs if name in run.ratios), None)


def saved_files(storage: Path) -> list[Path]:
    """Every run saved in ``storage``, oldest first (by number, then machine)."""
    found = storage.glob("*/[0-9][0-9][0-9][0-9]_*.json")
    return sorted(found, key=lambda path: (path.name, path.parent.name))


def find(storage: Path, names: list[str]) -> list[Run]:
    """The runs ``names`` name (numbers or files), in that order; none: every saved run."""
    if not names:
        files = saved_files(storage)
        if not files:
            raise SavedRunError(
                f"no saved runs in {storage} (pytest-benchmark's storage): save one with "
                f"{SAVE}, or name another folder with --storage"
            )
        return [Run.read(path) for path in files]
    return [Run.read(one_file(storage, name)) for name in names]


def one_file(storage: Path, name: str) -> Path:
    """The saved file that ``name`` names: a path, or a run number in ``storage``."""
    path = Path(name)
    if path.is_file():
        return path
    if not name.isdigit():
        raise SavedRunError(
            f"{name!r} is neither a file nor a run number (such as 3 or 0003, as "
            "pytest-benchmark numbers its saved runs)"
        )
    number = f"{int(name):04d}"
    matches = [p for p in saved_files(storage) if p.name.startswith(f"{number}_")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(map(str, matches))
        raise SavedRunError(
            f"run {number} is saved for more than one machine: name the file ({listed})"
        )
    numbers = [p.name[:4] for p in saved_files(storage)]
    have = f"the saved runs are {', '.join(numbers)}" if numbers else "no run is saved there"
    raise SavedRunError(f"no run {number} in {storage}: {have}")


def comparable(runs: list[Run]) -> None:
    """Refuses runs that do not compare, saying why: a ratio depends on the table's size (the
    scale, and --bench-parts) and on the engine that served it."""
    first = runs[0]
    for run in runs[1:]:
        if run.scale != first.scale:
            raise SavedRunError(
                f"runs {first.number} and {run.number} were measured at different scales "
                f"({first.scale} and {run.scale}): their tables differ in size, so their ratios "
                f"do not compare; compare runs of one scale ({by_scale(runs)})"
            )
        for name in first.ratios.keys() & run.ratios.keys():
            ours, theirs = first.engines[name], run.engines[name]
            if ours.split()[0] != theirs.split()[0]:
                raise SavedRunError(
                    f"runs {first.number} and {run.number} measured {name!r} on different "
                    f"engines ({ours} and {theirs}), so their ratios do not compare; compare "
                    "runs of one engine"
                )
            if first.items[name] != run.items[name]:
                raise SavedRunError(
                    f"runs {first.number} and {run.number} measured {name!r} on different "
                    f"tables ({first.items[name]} and {run.items[name]} items: saved with "
                    "different --bench-parts?), so their ratios do not compare; compare runs "
                    "of one table"
                )


def by_scale(runs: list[Run]) -> str:
    """'at scale 4: 0001, 0002; at scale 8: 0003'"""
    scales = sorted({run.scale for run in runs})
    return "; ".join(
        f"at scale {scale}: " + ", ".join(r.number for r in runs if r.scale == scale)
        for scale in scales
    )
