"""Shared read-only tables: built once per run, kept on dynalite's disk store and reused by the
next run only when their fingerprint matches and their load was complete."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import pytest

from ddbspec import config, targets, waiting
from ddbspec.aws import sweep
from ddbspec.engines import clients, processes, registry
from ddbspec.engines.dynalite import Dynalite, node_and_npm
from ddbspec.workshop import tables
from ddbspec.workshop.loaders import count_items, load

from suite import run_suite

DEFINITION = tables.TableDef("shared_probe", ("pk", "S"), None)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """A store of the tests' own: the outer run may hold the default one."""
    return tmp_path_factory.mktemp("cache")


def a_run(tmp_path: Path, cache_dir: Path, name: str, store: str = "test") -> config.Settings:
    state = tmp_path / name
    state.mkdir()
    return config.Settings(
        table_prefix="ddbspectest",
        run_id=name,
        cache_dir=cache_dir,
        state_dir=state,
        owner_pid=os.getpid(),
        store=store,
    )


class Builder:
    def __init__(self, items: int, fail_after: int | None = None) -> None:
        self.items, self.fail_after, self.calls = items, fail_after, 0

    def __call__(self, ddb, name: str) -> int:
        self.calls += 1
        rows = ({"pk": f"k{i}"} for i in range(self.items))
        if self.fail_after is not None:
            load(ddb, name, (r for i, r in enumerate(rows) if i < self.fail_after))
            raise RuntimeError("engine killed mid-load")
        return load(ddb, name, rows)


def shared(settings: config.Settings, engine: str, fingerprint: str, build: Builder) -> str:
    target = targets.Target(registry.acquire(settings, engine), settings, "shared")
    return target.shared_table(DEFINITION, fingerprint, build)


def test_dynalite_keeps_a_complete_table_for_the_next_run(tmp_path, cache_dir):
    first = a_run(tmp_path, cache_dir, "run1")
    build = Builder(60)
    try:
        name = shared(first, "dynalite", "fp-a" * 4, build)
        assert shared(first, "dynalite", "fp-a" * 4, build) == name  # same run: built once
        assert build.calls == 1
    finally:
        registry.release_all(first)

    second = a_run(tmp_path, cache_dir, "run2")
    try:
        again = Builder(60)
        assert shared(second, "dynalite", "fp-a" * 4, again) == name
        assert again.calls == 0  # reused from disk
        info = registry.acquire(second, "dynalite")
        assert info.persistent and count_items(info.client(), name) == 60

        other = Builder(30)
        assert shared(second, "dynalite", "fp-b" * 4, other) != name
        assert other.calls == 1  # another fingerprint is another table
    finally:
        registry.release_all(second)


def test_a_table_another_build_of_the_engine_loaded_is_rebuilt(tmp_path, cache_dir):
    """A store an unpatched dynalite loaded (its indexes missing entries) is not reused."""
    earlier = a_run(tmp_path, cache_dir, "earlier")
    try:
        info = registry.acquire(earlier, "dynalite")
        info.build = "an-earlier-install"
        old = targets.Target(info, earlier, "shared").shared_table(
            DEFINITION, "fp-e" * 4, Builder(60)
        )
    finally:
        registry.release_all(earlier)

    now = a_run(tmp_path, cache_dir, "now")
    try:
        rebuild = Builder(40)
        name = shared(now, "dynalite", "fp-e" * 4, rebuild)
        assert name == old and rebuild.calls == 1  # same name, loaded again by this build
        assert count_items(registry.acquire(now, "dynalite").client(), name) == 40
    finally:
        registry.release_all(now)


def test_a_half_loaded_table_is_rebuilt_not_trusted(tmp_path, cache_dir):
    killed = a_run(tmp_path, cache_dir, "killed")
    try:
        with pytest.raises(RuntimeError, match="killed mid-load"):
            shared(killed, "dynalite", "fp-c" * 4, Builder(60, fail_after=20))
    finally:
        registry.release_all(killed)

    after = a_run(tmp_path, cache_dir, "after")
    try:
        rebuild = Builder(60)
        name = shared(after, "dynalite", "fp-c" * 4, rebuild)
        assert rebuild.calls == 1
        assert count_items(registry.acquire(after, "dynalite").client(), name) == 60
    finally:
        registry.release_all(after)


def test_leftovers_of_a_killed_run_are_swept_from_the_store(tmp_path, cache_dir):
    killed = a_run(tmp_path, cache_dir, "left")
    info = registry.acquire(killed, "dynalite")
    ddb = info.client()
    target = targets.Target(info, killed, "sweep")
    leftover = target.table_name("orphan")
    tables.create_table(ddb, DEFINITION, leftover, target.waits)
    registry.release_all(killed)  # the run dies without deleting its table

    nxt = a_run(tmp_path, cache_dir, "next")
    try:
        tables_now = registry.acquire(nxt, "dynalite").client().list_tables()["TableNames"]
        assert leftover not in tables_now
    finally:
        registry.release_all(nxt)


def test_engines_without_a_disk_store_delete_shared_tables_with_the_run(tmp_path, cache_dir):
    run = a_run(tmp_path, cache_dir, "moto")
    try:
        build = Builder(10)
        name = shared(run, "moto", "fp-d" * 4, build)
        assert run.run_id in name and build.calls == 1
        assert sweep.sweep_run(run) == {"moto": sweep.Swept(shared=[name])}
        ddb = registry.acquire(run, "moto").client()
        assert name not in ddb.list_tables()["TableNames"]
    finally:
        registry.release_all(run)


PROBE = """
from ddbspec.workshop import tables
from ddbspec.workshop.loaders import load

DEFINITION = tables.TableDef("shared_probe", ("pk", "S"), None)


def test_reads_a_shared_table(target):
    target.shared_table(DEFINITION, "fp" * 8, lambda ddb, name: load(ddb, name, [{"pk": "a"}]))
"""
KILLED = """

def test_is_killed_before_its_teardown(target):
    tables.create_table(target.client(), DEFINITION, target.table_name("orphan"), target.waits)
"""


@pytest.mark.parametrize("interrupted", [False, True], ids=["normal", "interrupted-spec"])
def test_the_runs_end_says_it_deleted_its_shared_tables_and_an_interrupt_only_if_any(
    tmp_path, interrupted
):
    spec = tmp_path / "test_probe.py"
    spec.write_text(PROBE + (KILLED if interrupted else ""))
    result = run_suite(str(spec), "--engine", "moto", tmp=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    run = re.search(r"; run (\w+);", out).group(1)
    said = [line for line in out.splitlines() if line.startswith(f"ddbspec: run {run}")]
    shared = f"ddbspec-{run}-shared-shared_probe-fpfpfpfpfpfp"
    assert said[0] == f"ddbspec: run {run} deleted its 1 shared table on moto: {shared}", out
    if interrupted:
        assert said[1:] == [
            f"ddbspec: run {run}'s end deleted on moto what an interrupted spec left (1): "
            f"table ddbspec-{run}-main-probe-orphan"
        ], out
    else:
        assert said[1:] == [] and "interrupt" not in out, out


def test_a_store_holding_a_table_no_process_will_finish_is_emptied(tmp_path, cache_dir, caplog):
    # a dynalite that takes ten minutes to make a table ACTIVE ends first: on disk, the
    # table stays CREATING for good, and a run that waited on it waited until it timed out
    data = Dynalite().data_dir(cache_dir, "stuck")
    data.mkdir(parents=True)
    cli = Dynalite().provision(cache_dir) / "node_modules" / "dynalite" / "cli.js"
    port = processes.free_port()
    slow = ["--createTableMs", "600000", "--path", str(data)]
    engine = subprocess.Popen([node_and_npm()[0], str(cli), "--port", str(port), *slow])
    try:
        ddb = clients.client("us-east-1", f"http://127.0.0.1:{port}")
        waiting.until("dynalite", ddb.list_tables, 30, retry=(Exception,))
        ddb.create_table(**tables.create_table_request(DEFINITION, "ddbspectest-cache-stuck"))
    finally:
        engine.terminate()
        engine.wait(10)

    caplog.set_level(logging.INFO, logger="ddbspec")
    opened = a_run(tmp_path, cache_dir, "opened", store="stuck")
    try:
        ddb = registry.acquire(opened, "dynalite").client()
        assert ddb.list_tables()["TableNames"] == []
        tables.create_table(ddb, DEFINITION, "ddbspectest-opened-t", tables.Waits(timeout=5.0))
    finally:
        registry.release_all(opened)
    said = "held ddbspectest-cache-stuck (CREATING): a change that no process will finish"
    assert said in caplog.text
