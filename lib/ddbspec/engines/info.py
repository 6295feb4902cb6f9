"""A started engine as the workers see it (``EngineInfo``): what they need to reach it, passed
between processes as JSON. A module of its own, so that ``clients`` and ``base`` depend on it
and not on each other."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ddbspec.engines import clients
from ddbspec.workshop.tables import Waits


@dataclass
class EngineInfo:
    """A started (or unavailable) engine, as the workers see it. JSON round-trips."""

    name: str
    version: str = "?"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    capabilities: dict[str, bool] = field(default_factory=dict)
    pid: int | None = None
    container: str | None = None
    poll: float = 0.05
    timeout: float = 120.0
    persistent: bool = False  # its data outlives the run (dynalite on disk)
    build: str = ""  # what the install is, where data outlives the run: what kept data needs
    unavailable: str | None = None  # specs on it skip, with this reason
    error: str | None = None  # it failed to start: specs on it fail, with this message
    start_seconds: float = 0.0  # how long starting (and probing) it took
    reference: bool = False  # the service itself: its ConsumedCapacity is DynamoDB's own

    @property
    def waits(self) -> Waits:
        """How long this engine's tables may take to change (AWS: minutes)."""
        return Waits(poll=self.poll, timeout=self.timeout)

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        return clients.client(self.region, self.endpoint_url, service, **config)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EngineInfo:
        return cls(**json.loads(text))
