"""The matrix's tests: the faulty engine in front of the run's dynalite."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ddbspec.engines.info import EngineInfo

from faulty import DroppingProxy


@pytest.fixture
def proxy(dynalite: EngineInfo) -> Iterator[DroppingProxy]:
    """A proxy in front of dynalite; once closed, no thread of it runs and its port is shut."""
    with DroppingProxy(dynalite.endpoint_url) as running:
        yield running
    port = int(running.url.rsplit(":", 1)[1])
    assert not [t for t in threading.enumerate() if t.name.startswith("dropping-proxy")]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def proxy_module(dynalite: EngineInfo) -> Iterator[DroppingProxy]:
    """The faulty engine for a whole module (the matrix's runs read it for minutes)."""
    with DroppingProxy(dynalite.endpoint_url) as running:
        yield running
