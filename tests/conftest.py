"""Fixtures the package's tests share."""

from __future__ import annotations

import pytest

from ddbspec.config import Settings
from ddbspec.engines import registry
from ddbspec.engines.info import EngineInfo


def acquired(settings: Settings, name: str) -> EngineInfo:
    """The run's engine ``name`` (started once, shared), or the test is skipped with why."""
    info = registry.acquire(settings, name)
    if info.error or info.unavailable:
        pytest.skip(f"{name}: {info.error or info.unavailable}")
    return info


@pytest.fixture(scope="module")
def dynalite(ddbspec_settings: Settings) -> EngineInfo:
    return acquired(ddbspec_settings, "dynalite")


@pytest.fixture(scope="module")
def moto(ddbspec_settings: Settings) -> EngineInfo:
    """moto: transactions, which dynalite lacks."""
    return acquired(ddbspec_settings, "moto")
