"""The engine a spec runs on, and the tables it creates there (and only those)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from filelock import FileLock

from ddbspec.config import Settings
from ddbspec.engines import registry
from ddbspec.engines.info import EngineInfo
from ddbspec.engines.probes import CAPABILITIES
from ddbspec.errors import EngineFailed, NoEngineCapable, UsageError
from ddbspec.progress import say
from ddbspec.workshop import tables

REMEMBERED = "(as probed before, on this build)"  # a reason from a remembered probe


def pool(settings: Settings, label: str = "") -> tuple[str, ...]:
    """Engines to try, in order: the default pool (for the exercise ``label``, if given), or
    the one engine the user forced."""
    return registry.pool_for(label) if settings.engine == "auto" else (settings.engine,)


def pick(settings: Settings, needs: list[str], label: str) -> Target:
    """The first engine of the exercise's pool that has every capability in ``needs``;
    NoEngineCapable (each engine's reason) if none has, EngineFailed if one that might failed
    to start."""
    unknown = sorted(set(needs) - set(CAPABILITIES))
    if unknown:
        raise UsageError(
            f"needs marker names unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}"
        )
    reasons = []
    for name in pool(settings, label):
        known = registry.ENGINES[name].remembered(settings)  # not started for what it lacks
        if known is not None and (lacking := _lacking(needs, known)):
            reasons.append(f"{name} lacks {lacking} {REMEMBERED}")
            continue
        info = registry.acquire(settings, name)
        if info.error:
            raise EngineFailed(f"engine {name}: {info.error}")
        if info.unavailable:
            reasons.append(f"{name} unavailable: {info.unavailable}")
            continue
        lacking = _lacking(needs, info.capabilities)
        if not lacking:
            return Target(info, settings, label)
        reasons.append(f"{name} lacks {lacking}")
    raise NoEngineCapable(reasons)


def _lacking(needs: list[str], capabilities: dict[str, bool]) -> str:
    """The needs an engine lacks, each with what it means; empty if it has them all."""
    return ", ".join(f"{n} ({CAPABILITIES[n]})" for n in needs if not capabilities.get(n))


@dataclass
class Target:
    """An engine as one spec module sees it: clients, waits, and its own table names."""

    info: EngineInfo
    settings: Settings
    label: str

    @property
    def waits(self) -> tables.Waits:
        return self.info.waits

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        return self.info.client(service, **config)

    def table_name(self, base: str) -> str:
        """Unique to this run, this xdist worker and this spec: nothing else is touched."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        s = self.settings
        return f"{s.table_prefix}-{s.run_id}-{worker}-{self.label}-{base}"

    @contextlib.contextmanager
    def table(self, definition: tables.TableDef, base: str | None = None) -> Iterator[str]:
        """Create the table, yield its name, delete it afterwards unless --keep-tables.

        The deletion is armed before the create, so an interrupt while the table is still
        being created (minutes on AWS with indexes) does not leave it behind.
        """
        name = self.table_name(base or definition.name)
        ddb = self.client()
        try:
            tables.create_table(ddb, definition, name, self.waits, self.on_demand, self.tags())
            yield name
        finally:
            if not self.settings.keep_tables:
                tables.delete_table(ddb, name, self.waits)
                if self.info.endpoint_url is None:  # in an account: say what was deleted
                    say(f"deleted table {name}")

    def shared_table(
        self, definition: tables.TableDef, fingerprint: str, build: Callable[[Any, str], int]
    ) -> str:
        """A read-only table built once per run on this engine and shared by every spec.

        ``build(client, name)`` loads the empty table and returns its item count. On an engine
        that keeps its data on disk (dynalite), the table is kept after the run and reused by
        the next one whose ``fingerprint`` (files, scale, order) is the same, on the same
        engine build: the fingerprint with the build and the item count are tagged on the table
        only once the load has been verified, so a half-loaded table (a killed run), a stale one
        or one an earlier install loaded (dynalite before a fix of its indexes) is rebuilt.
        """
        s, kept = self.settings, self.info.persistent
        trusted = f"{fingerprint}@{self.info.build}"
        name = f"{shared_prefix(s, kept)}{definition.name}-{fingerprint[:12]}"
        record = s.state_dir / f"shared-{self.info.name}-{name}.json"
        with FileLock(f"{record}.lock"):
            if record.exists():
                return name
            ddb = self.client()
            if not (kept and cached(ddb, name, trusted)):
                tables.delete_table(ddb, name, self.waits)
                table = tables.create_table(
                    ddb, definition, name, self.waits, self.on_demand, self.tags()
                )
                items = build(ddb, name)
                if kept:  # the mark of a complete load, written last
                    marks = {"ddbspec-fingerprint": trusted, "ddbspec-items": str(items)}
                    ddb.tag_resource(
                        ResourceArn=table["TableArn"],
                        Tags=[{"Key": k, "Value": v} for k, v in marks.items()],
                    )
            record.write_text(json.dumps({"table": name, "kept": kept}))
        return name

    @property
    def on_demand(self) -> bool:
        """On AWS, tables are on-demand unless --aws-capacity workshop: cheap by default."""
        return self.info.name == "aws" and self.settings.aws_capacity == "on-demand"

    def tags(self) -> dict[str, str] | None:
        """Tags on AWS only, so a sweep can find a killed run's leftovers by run id."""
        if self.info.endpoint_url is not None:
            return None
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return {"project": "ddbspec", "ddbspec-run": self.settings.run_id, "created-at": now}


def shared_prefix(settings: Settings, kept: bool) -> str:
    """How a shared table's name begins: kept on disk for the next run, or this run's own."""
    scope = "cache" if kept else f"{settings.run_id}-shared"
    return f"{settings.table_prefix}-{scope}-"


def is_shared(settings: Settings, table: str) -> bool:
    """Whether ``table`` is named as one of the run's shared tables (``Target.shared_table``)."""
    return table.startswith((shared_prefix(settings, True), shared_prefix(settings, False)))


def cached(ddb: Any, name: str, fingerprint: str) -> bool:
    """Whether ``name`` exists, holds a verified load, and was built from ``fingerprint``."""
    try:
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    except ddb.exceptions.ResourceNotFoundException:
        return False
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    return tags.get("ddbspec-fingerprint") == fingerprint and "ddbspec-items" in tags
