"""moto's server in a process of its own (``ddbspec.engines.motoserver``)."""

from __future__ import annotations

import importlib.metadata
import sys

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
