"""What every engine is: a kind that checks, starts and stops (``Engine``); what it starts is
an ``EngineInfo`` (``ddbspec.engines.info``).

Every local engine is a process of its own on 127.0.0.1 and a free port, run under
``ddbspec.engines.guard`` so that it ends with the test run even when the run is killed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ddbspec.config import Settings
from ddbspec.engines import probes, processes
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineError


class Engine:
    """One kind of engine. Subclasses say how to check, start and stop it."""

    name: ClassVar[str]
    local: ClassVar[bool] = True

    def version(self) -> str:
        raise NotImplementedError

    def describe(self, settings: Settings) -> str:
        """The engine as the header names it."""
        return f"{self.name} {self.version()}"

    def check(self, settings: Settings) -> None:
        """Fail fast (EngineError) when the engine cannot possibly start; cheap, run first."""

    def start(self, settings: Settings) -> EngineInfo:
        raise NotImplementedError

    def stop(self, info: EngineInfo) -> None:
        if info.pid:
            processes.stop(info.pid)

    def _process(
        self,
        settings: Settings,
        command: list[str],
        port: int | None = None,
        hold: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> EngineInfo:
        """Start ``command`` with ``env`` (its port in ``{port}`` in either), wait for it,
        probe it."""
        port = port or processes.free_port()
        if processes.port_taken(port):
            raise EngineError(
                f"{self.name} cannot start: port {port} on {processes.HOST} "
                "is already in use by another process."
            )
        log = settings.state_dir / f"{self.name}.log"
        argv = [part.replace("{port}", str(port)) for part in command]
        environment = {k: v.replace("{port}", str(port)) for k, v in (env or {}).items()}
        pid = processes.spawn(argv, settings.owner_pid, log, environment, hold=hold)
        info = EngineInfo(
            name=self.name,
            version=self.version(),
            pid=pid,
            region=settings.region or "us-east-1",
            endpoint_url=f"http://{processes.HOST}:{port}",
        )
        ddb = info.client(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
        try:
            processes.wait_ready(pid, lambda: answers(ddb), log, f"{self.name} on port {port}")
            return self._probed(info, settings)
        except BaseException:
            processes.stop(pid)
            raise

    def probe_key(self) -> str | None:
        """What fixes this engine's capabilities (its build), so that one probe of it is
        remembered for later runs; None where they may change under the same name (an
        endpoint, a container, AWS): those are probed on every start."""
        return None

    def remembered(self, settings: Settings) -> dict[str, bool] | None:
        """Its capabilities as an earlier run probed this build, if one did; nothing starts."""
        key = self.probe_key()
        return probes.recall(settings.cache_dir, self.name, key) if key else None

    def forget(self, settings: Settings) -> None:
        if key := self.probe_key():
            probes.forget(settings.cache_dir, self.name, key)

    def _probed(self, info: EngineInfo, settings: Settings) -> EngineInfo:
        known = self.remembered(settings)
        if known is None:
            known = probes.probe(info.client, f"{settings.table_prefix}-{settings.run_id}-")
            if key := self.probe_key():
                probes.remember(settings.cache_dir, self.name, key, known)
        info.capabilities = known
        return info


def answers(ddb: Any) -> bool:
    """Whether the engine answers a cheap request (ListTables reads all of dynalite's store)."""
    try:
        ddb.describe_table(TableName="ddbspec-readiness-check")
    except ddb.exceptions.ResourceNotFoundException:
        return True
    return True
