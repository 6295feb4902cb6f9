"""What a run decided from its options (``Settings``), shared by the controller and the xdist
workers, and the option values that need deciding: the engine and the scale."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ddbspec.errors import UsageError
from ddbspec.workshop.datasets import FULL_SCALE, checked_scale

DEFAULT_SCALE = 4


def default_cache_dir() -> Path:
    """Where engines are provisioned: $XDG_CACHE_HOME/ddbspec, else ~/.cache/ddbspec."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ddbspec"


@dataclass
class Settings:
    """What the run decided from its options; shared by the controller and xdist workers."""

    engine: str = "auto"
    endpoint_url: str | None = None
    region: str | None = None
    table_prefix: str = "ddbspec"
    scale: int = DEFAULT_SCALE  # copies of each medium log row in the log tables (--scale)
    run_id: str = "local"
    keep_tables: bool = False
    aws_capacity: str = "on-demand"
    store: str | None = None  # dynalite keeps its data on disk in this store (None: in memory)
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    state_dir: Path = Path("/tmp")
    owner_pid: int = 0
    container_image: str | None = None  # --container-image: a preset or an image reference
    container_port: int | None = None  # the port an image of no preset listens on
    container_timeout: float = 60.0  # how long a container may take to answer

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        raw = json.loads(text)
        return cls(
            **{**raw, "cache_dir": Path(raw["cache_dir"]), "state_dir": Path(raw["state_dir"])}
        )


def scale(text: str) -> int:
    """--scale: copies of each medium log row; 'full' is the workshop's 250. The limits are
    the workshop's (``datasets.checked_scale``), refused as argparse refuses a bad value."""
    if text == "full":
        return FULL_SCALE
    try:
        copies = int(text)
    except ValueError:
        copies = 0  # refused below, naming what was typed
    try:
        return checked_scale(copies, text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def store_for(copies: int) -> str:
    """Where dynalite keeps its data: on disk, in a store per scale, where the loaded log
    tables are reused by the next run. At every scale: at the default one, loading them is
    most of what exercises 2 and 3 take (measured: ``pytest specs -k "test_scan or
    test_sharding"`` 37 s in memory, 28 s the first time on disk, 9-10 s the next)."""
    return f"scale-{copies}"


def chosen_engine(engine: str, aws: bool, url: str | None, image: str | None = None) -> str:
    """The engine that --engine, --aws, --endpoint-url and --container-image together name,
    or a usage error."""
    if url is not None and not valid_url(url):
        raise UsageError(
            f"--endpoint-url {url!r} is not a URL: give the scheme, host and port, "
            "e.g. --endpoint-url http://localhost:8000"
        )
    if image and engine not in ("auto", "container"):
        raise UsageError(f"--container-image is for --engine container, not {engine}.")
    if image:
        engine = "container"
    if engine == "container" and not image:
        raise UsageError(
            "--engine container needs --container-image: a preset (dynamodb-local, dynalite, "
            "moto, ministack) or an image reference with --container-port."
        )
    if aws and engine not in ("auto", "aws"):
        raise UsageError(f"--aws and --engine {engine} contradict each other: pick one.")
    if url and engine not in ("auto", "endpoint"):
        raise UsageError(f"--endpoint-url is for --engine endpoint, not {engine}.")
    if aws and url:
        raise UsageError("--aws and --endpoint-url contradict each other: pick one.")
    chosen = "aws" if aws else "endpoint" if url else engine
    if chosen == "endpoint" and not url:
        raise UsageError("--engine endpoint needs --endpoint-url URL.")
    return chosen


def valid_url(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number
        return False
