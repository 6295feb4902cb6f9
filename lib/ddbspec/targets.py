"""The engine a spec runs on, and the tables it creates there (and only those)."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ddbspec import engines, tables
from ddbspec.engines import EngineInfo, Settings
from ddbspec.probes import CAPABILITIES


def pool(settings: Settings) -> tuple[str, ...]:
    """Engines to try, in order: the default pool, or the one engine the user forced."""
    return engines.POOL if settings.engine == "auto" else (settings.engine,)


def pick(settings: Settings, needs: list[str], label: str) -> Target:
    """The first engine of the pool that has every capability in ``needs``, or a skip."""
    unknown = sorted(set(needs) - set(CAPABILITIES))
    if unknown:
        raise pytest.UsageError(
            f"needs marker names unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}"
        )
    reasons = []
    for name in pool(settings):
        info = engines.acquire(settings, name)
        if info.error:
            pytest.fail(f"engine {name}: {info.error}", pytrace=False)
        if info.unavailable:
            reasons.append(f"{name} unavailable: {info.unavailable}")
            continue
        missing = [need for need in needs if not info.capabilities.get(need)]
        if not missing:
            return Target(info, settings, label)
        reasons.append(f"{name} lacks {', '.join(f'{m} ({CAPABILITIES[m]})' for m in missing)}")
    pytest.skip("; ".join(reasons))


@dataclass
class Target:
    """An engine as one spec module sees it: clients, waits, and its own table names."""

    info: EngineInfo
    settings: Settings
    label: str
    created: list[str] = field(default_factory=list)

    @property
    def waits(self) -> tables.Waits:
        return tables.Waits(poll=self.info.poll, timeout=self.info.timeout)

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        return self.info.client(service, **config)

    def table_name(self, base: str) -> str:
        """Unique to this run, this xdist worker and this spec: nothing else is touched."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        s = self.settings
        return f"{s.table_prefix}-{s.run_id}-{worker}-{self.label}-{base}"

    @contextlib.contextmanager
    def table(self, definition: tables.TableDef, base: str | None = None) -> Iterator[str]:
        """Create the table, yield its name, delete it afterwards unless --keep-tables."""
        name = self.table_name(base or definition.name)
        ddb = self.client()
        tables.create_table(ddb, definition, name, self.waits, tags=self.tags())
        self.created.append(name)
        try:
            yield name
        finally:
            if not self.settings.keep_tables:
                tables.delete_table(ddb, name, self.waits)

    def tags(self) -> dict[str, str] | None:
        """Tags on AWS only, so a sweep can find a killed run's leftovers by run id."""
        if self.info.endpoint_url is not None:
            return None
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return {"project": "ddbspec", "ddbspec-run": self.settings.run_id, "created-at": now}
