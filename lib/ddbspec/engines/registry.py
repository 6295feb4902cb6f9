"""The engines by name, and the run's one instance of each: started by the first process that
asks (xdist workers share it through a file lock), stopped at the run's end."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from filelock import FileLock

from ddbspec import files
from ddbspec.config import Settings
from ddbspec.engines.aws import Aws
from ddbspec.engines.base import Engine
from ddbspec.engines.containers import Container
from ddbspec.engines.dynalite import Dynalite, DynaliteNpm
from ddbspec.engines.endpoint import Endpoint
from ddbspec.engines.info import EngineInfo
from ddbspec.engines.ministack import Ministack
from ddbspec.engines.moto import Moto
from ddbspec.errors import EngineError

ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Dynalite(),
        DynaliteNpm(),  # for comparison only: never in the pool
        Moto(),
        Ministack(),
        Container(),
        Container("dynamodb-local", preset="dynamodb-local"),
        Endpoint(),
        Aws(),
    )
}
# The auto pool's order, by measurement (``ddbspec bench engines``, in the README): dynalite
# serves exercises 2-4 fastest and has no online GSI, transactions or streams; ministack
# serves 5-8 faster than moto, which stays as the pool's last resort.
POOL = ("dynalite", "ministack", "moto")
# Exercises that a later engine of the pool serves faster, by the same measurement, put it
# first. Exercise 1 is paced by how fast the engine writes (the gateway's clock is set by it),
# and ministack writes twice as fast as dynalite; exercise 7 then runs all on one engine,
# where dynalite, without transactions, could serve only its lock.
FIRST = {"capacity": "ministack", "locking": "ministack"}


def pool_for(exercise: str) -> tuple[str, ...]:
    """The auto pool's order for one exercise (its label: ``capacity``)."""
    first = FIRST.get(exercise)
    return POOL if first is None else (first, *(e for e in POOL if e != first))


def acquire(settings: Settings, name: str) -> EngineInfo:
    """The run's one instance of engine ``name``: started by the first worker that asks."""
    path = settings.state_dir / f"engine-{name}.json"
    with FileLock(str(path) + ".lock"):
        if path.exists():
            return EngineInfo.from_json(path.read_text())
        began = time.monotonic()
        try:
            info = ENGINES[name].start(settings)
        except EngineError as error:
            info = EngineInfo(name=name, error=str(error))
        info.start_seconds = time.monotonic() - began
        _record(path, info)
    return info


def _record(path: Path, info: EngineInfo) -> None:
    """Write an engine's record whole, or not at all. The run's end reads every record to
    sweep and stop its engines: a Ctrl-C between creating the file and writing it left an
    empty one, which stopped that cleanup halfway (the state folder stayed). An engine whose
    record was never written is stopped by its guard when the run ends."""
    files.write_whole(path, info.to_json())


def release_all(settings: Settings) -> list[str]:
    """Stop every engine this run started, side by side (each stop mostly waits); returns
    their names."""
    paths = sorted(settings.state_dir.glob("engine-*.json"))
    with ThreadPoolExecutor(max_workers=max(1, len(paths))) as pool:
        return list(pool.map(_release, paths))


def _release(path: Path) -> str:
    info = EngineInfo.from_json(path.read_text())
    with contextlib.suppress(Exception):
        ENGINES[info.name].stop(info)
    path.unlink()
    return info.name
