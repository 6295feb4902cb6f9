"""moto's server in a process of its own (``ddbspec.engines.motoserver``)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
from pathlib import Path

from ddbspec.config import Settings
from ddbspec.engines import processes
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo


class Moto(Engine):
    """The moto server in its own process: streams, transactions and online GSIs, but slow."""

    name = "moto"

    def version(self) -> str:
        return importlib.metadata.version("moto")

    def start(self, settings: Settings) -> EngineInfo:
        command = [sys.executable, "-m", "ddbspec.engines.motoserver", processes.HOST, "{port}"]
        return self._process(settings, command)

    def probe_key(self) -> str:
        """moto's version and the suite's server around it (which changes what moto does)."""
        server = Path(__file__).with_name("motoserver.py").read_bytes()  # not imported: slow
        return f"{self.version()}-{hashlib.sha256(server).hexdigest()[:12]}"
