"""What a saved benchmark run says about itself, so that runs compare honestly.

pytest-benchmark saves seconds, the machine and the commit. A ratio also depends on the
engine that served it and on the table's size, so each benchmark's ``extra_info`` carries its
engine, its counts (items, workers, rounds) and its ratios (``rounds.record``), and the run
carries a ``ddbspec`` block: the scale, the engines and the commit. The comparable part (the
engine option, the engines' versions, the scale) also goes into pytest-benchmark's
``machine_info``, so that its own ``--benchmark-compare`` warns about runs that differ there.
"""

from __future__ import annotations

from typing import Any

from ddbspec import targets
from ddbspec.config import Settings
from ddbspec.engines import registry

FORMAT = 1  # of the ddbspec block; ddbspec.bench.runs reads this format


def benchmark(bench: Any, target: targets.Target, **counts: Any) -> None:
    """A benchmark's context in its extra_info: the engine that served it, and its counts."""
    bench.extra_info.update(engine=f"{target.info.name} {target.info.version}", **counts)


def machine(settings: Settings) -> dict[str, Any]:
    """What two runs must share to compare, added to pytest-benchmark's machine_info."""
    versions = {name: registry.ENGINES[name].version() for name in targets.pool(settings)}
    return {"engine": settings.engine, "engines": versions, "scale": settings.scale}


def run(settings: Settings, output: dict[str, Any]) -> dict[str, Any]:
    """The run's own block in the saved JSON: what it measured, where, from which commit."""
    served = {b["extra_info"].get("engine") for b in output["benchmarks"]} - {None}
    commit = output.get("commit_info", {})
    return {
        "format": FORMAT,
        "run": settings.run_id,
        "engine": settings.engine,
        "engines": sorted(served),
        "scale": settings.scale,
        "commit": commit.get("id"),
        "dirty": commit.get("dirty"),
    }
