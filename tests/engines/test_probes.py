"""Capability probes, remembered per engine build: a later run neither probes a build again
nor starts an engine for a spec that its build cannot serve."""

from __future__ import annotations

import pytest

from ddbspec import targets
from ddbspec.config import Settings
from ddbspec.engines import probes, registry
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import NoEngineCapable

EVERY = dict.fromkeys(probes.CAPABILITIES, True)
NO_GSI = {**EVERY, "online_gsi": False}


def test_what_a_probe_found_is_recalled_for_the_same_build_only(tmp_path):
    probes.remember(tmp_path, "dynalite", "build1", NO_GSI)
    assert probes.recall(tmp_path, "dynalite", "build1") == NO_GSI
    assert probes.recall(tmp_path, "dynalite", "build2") is None
    assert probes.recall(tmp_path, "moto", "build1") is None
    probes.forget(tmp_path, "dynalite", "build1")
    assert probes.recall(tmp_path, "dynalite", "build1") is None


@pytest.mark.parametrize("text", ["{", "[]", '{"online_gsi": true}'])
def test_a_damaged_or_partial_record_is_probed_again(tmp_path, text):
    (tmp_path / "probes").mkdir()
    (tmp_path / "probes" / "moto-b.json").write_text(text)
    assert probes.recall(tmp_path, "moto", "b") is None


class Built(Engine):
    """An engine whose build is ``b``: its capabilities may be remembered."""

    name = "built"

    def probe_key(self) -> str:
        return "b"


def test_a_start_probes_a_build_once_and_then_recalls_it(tmp_path, monkeypatch):
    settings, probed = Settings(cache_dir=tmp_path), []
    monkeypatch.setattr(probes, "probe", lambda *_: probed.append(1) or dict(NO_GSI))
    first = Built()._probed(EngineInfo("built"), settings)
    second = Built()._probed(EngineInfo("built"), settings)
    assert first.capabilities == second.capabilities == NO_GSI
    assert probed == [1]


def test_an_engine_without_a_build_is_probed_on_every_start(tmp_path, monkeypatch):
    class Endpoint(Engine):
        name = "somewhere"

    settings, probed = Settings(cache_dir=tmp_path), []
    monkeypatch.setattr(probes, "probe", lambda *_: probed.append(1) or dict(EVERY))
    for _ in range(2):
        Endpoint()._probed(EngineInfo("somewhere"), settings)
    assert probed == [1, 1]
    assert not (tmp_path / "probes").exists()


def test_the_pick_passes_over_an_engine_its_build_lacks_what_without_starting_it(
    tmp_path, monkeypatch
):
    settings = Settings(cache_dir=tmp_path)
    for name, found in (("dynalite", NO_GSI), ("moto", EVERY)):
        key = registry.ENGINES[name].probe_key()
        probes.remember(tmp_path, name, key, found)
    started = []

    def acquire(settings: Settings, name: str) -> EngineInfo:
        started.append(name)
        return EngineInfo(name, capabilities=EVERY if name == "moto" else NO_GSI)

    monkeypatch.setattr(registry, "POOL", ("dynalite", "moto"))
    monkeypatch.setattr(registry, "acquire", acquire)
    assert targets.pick(settings, ["online_gsi"], "x").info.name == "moto"
    assert targets.pick(settings, [], "x").info.name == "dynalite"
    assert started == ["moto", "dynalite"]  # dynalite only for the spec it can serve
    with pytest.raises(NoEngineCapable) as none:
        targets.pick(Settings(cache_dir=tmp_path, engine="dynalite"), ["online_gsi"], "x")
    assert none.value.reasons == [
        "dynalite lacks online_gsi (UpdateTable adds a global secondary index and backfills it)"
        " (as probed before, on this build)"
    ]
