"""The matrix's columns: each engine it runs, and the pytest options that send the specs there.

By default every local engine the suite can start (dynalite with the suite's fixes and as npm
publishes it, moto, ministack) and, when Docker answers, each container preset whose image is
here. A user's endpoint is one more column (``NAME=URL``); AWS only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddbspec.engines import containers
from ddbspec.errors import UsageError

LOCAL = ("dynalite", "dynalite-npm", "moto", "ministack")
CONTAINER = "container:"  # a preset's column: container:dynalite


@dataclass(frozen=True)
class Column:
    """One engine of the matrix: its name and the options that make pytest run on it."""

    name: str
    options: tuple[str, ...]

    @classmethod
    def named(cls, name: str) -> Column:
        """The column a user names: a local engine, ``container:PRESET``, or ``aws``."""
        if name in LOCAL:
            return cls(name, ("--engine", name))
        if name == "aws":
            return cls(name, ("--aws",))
        preset = name.removeprefix(CONTAINER)
        if name.startswith(CONTAINER) and preset in containers.PRESETS:
            return cls(name, ("--engine", "container", "--container-image", preset))
        known = [*LOCAL, *(CONTAINER + p for p in containers.PRESETS), "aws"]
        raise UsageError(f"no engine {name!r} for the matrix; known: {', '.join(known)}")

    @classmethod
    def endpoint(cls, spec: str) -> Column:
        """``NAME=URL``: an endpoint the user runs (DynamoDB Local, LocalStack, Alternator)."""
        name, _, url = spec.partition("=")
        if not name or not url.startswith(("http://", "https://")):
            raise UsageError(f"--endpoint {spec!r}: give NAME=URL, as local=http://127.0.0.1:8000")
        return cls(name, ("--engine", "endpoint", "--endpoint-url", url))


def default() -> tuple[list[Column], list[str]]:
    """Every column that can run here, and a line for what was left out (and why)."""
    columns = [Column.named(n) for n in LOCAL]
    reason = containers.docker_unavailable()
    if reason is not None:
        return columns, [f"the container presets ({', '.join(containers.PRESETS)}): {reason}"]
    left: list[str] = []
    for preset, spec in containers.PRESETS.items():
        try:
            containers.docker_client(3).images.get(spec.image)
        except Exception:  # the SDK's ImageNotFound, or the daemon gone meanwhile
            left.append(f"{CONTAINER}{preset}: image {spec.image} is not here ({spec.how})")
            continue
        columns.append(Column.named(CONTAINER + preset))
    return columns, left


def check(columns: list[Column]) -> None:
    """Names must differ: each column writes its own report."""
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise UsageError(f"two columns share a name: {names}")
