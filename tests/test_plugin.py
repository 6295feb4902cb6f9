"""The plugin's decisions, without an engine: options, engine choice, skips, names."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from ddbspec import config, plugin, summary, targets
from ddbspec.config import Settings
from ddbspec.engines import registry
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineFailed, NoEngineCapable, UsageError
from ddbspec.sigterm import TermAsInterrupt

from suite import REPO, run_suite


@pytest.mark.parametrize(("text", "copies"), [("1", 1), ("4", 4), ("250", 250), ("full", 250)])
def test_scale_accepts_copies_and_full(text, copies):
    assert config.scale(text) == copies


@pytest.mark.parametrize("text", ["0", "-1", "251", "1e3", "", "half"])
def test_scale_refuses_anything_else_with_the_limit(text):
    with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 250"):
        config.scale(text)


@pytest.mark.parametrize(
    ("path", "exercise"),
    [
        ("specs/test_sparse.py::test_x", "5 sparse"),
        ("specs/test_overloading.py", "4 overloading"),
        ("tests/test_plugin.py::test_y", "plugin"),
    ],
)
def test_exercise_names_come_from_module_names(path, exercise):
    assert summary.exercise_of(path) == exercise


def summarised(figures: summary.Figures) -> dict:
    """The rows the run's summary shows for what ``figures`` recorded in a sparse spec."""
    report = SimpleNamespace(
        when="teardown",
        nodeid="specs/test_sparse.py::t",
        user_properties=figures.item.user_properties,
    )
    collected = summary.Summary("dynalite")
    collected.pytest_runtest_logreport(report)
    return collected.results["5 sparse"]["figures"]


def test_a_checked_figure_that_holds_is_recorded_and_passes():
    figures = summary.Figures(SimpleNamespace(user_properties=[]))
    figures.check("managers", 46, 46, "46")
    figures.check("turn", 1507, 1500, within=10)
    figures.check("speed", 0.95, 0.9, at_least=True)
    rows = summarised(figures)
    assert [summary.compared(rows[name]).split()[0] for name in rows] == ["==", "~=", ">="]
    assert rows["managers"]["printed"] == "46"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "expected 46"),
        ({"within": 2}, "expected 46 +-2"),
        ({"at_least": True}, "expected at least 46"),
    ],
)
def test_a_checked_figure_that_fails_says_which_and_stays_in_the_summary(kwargs, expected):
    figures = summary.Figures(SimpleNamespace(user_properties=[]))
    with pytest.raises(AssertionError) as failed:
        figures.check("managers", 43, 46, "46", reason="a manager was lost", **kwargs)
    assert str(failed.value) == (
        f"figure 'managers': measured 43, {expected}; the workshop printed '46': a manager was lost"
    )
    row = summarised(figures)["managers"]
    assert (row["measured"], row["expected"]) == (43, 46)
    assert summary.compared(row).split()[0] in ("!=", "<")


def test_a_check_without_an_expected_value_is_refused():
    figures = summary.Figures(SimpleNamespace(user_properties=[]))
    with pytest.raises(ValueError, match="use record"):
        figures.check("speed-up", 3.2, None)
    assert figures.item.user_properties == []


def fake_pool(monkeypatch, infos: dict[str, EngineInfo]) -> None:
    """The auto pool is these engines, in this order, already started as ``infos`` say.

    No earlier probe stands in for them: the user's cache (~/.cache/ddbspec) holds one of
    each build any run has started, the suite's own included, and ``pick`` trusts it."""
    monkeypatch.setattr(registry, "POOL", tuple(infos))
    monkeypatch.setattr(registry, "acquire", lambda settings, name: infos[name])
    monkeypatch.setattr(Engine, "remembered", lambda self, settings: None)


DYNALITE = EngineInfo("dynalite", capabilities={"online_gsi": False, "transactions": False})
MOTO = EngineInfo(
    "moto",
    endpoint_url="http://127.0.0.1:9",
    capabilities={"online_gsi": True, "transactions": True},
)


def test_auto_picks_the_first_engine_with_what_the_spec_needs(monkeypatch):
    fake_pool(monkeypatch, {"dynalite": DYNALITE, "moto": MOTO})
    assert targets.pick(Settings(), [], "x").info.name == "dynalite"
    assert targets.pick(Settings(), ["online_gsi"], "x").info.name == "moto"


def test_a_forced_engine_without_the_capability_skips_naming_both(monkeypatch):
    fake_pool(monkeypatch, {"dynalite": DYNALITE})
    with pytest.raises(pytest.skip.Exception, match=r"dynalite lacks transactions \("):
        plugin.picked(Settings(engine="dynalite"), ["transactions"], "x")


def test_an_unavailable_engine_skips_with_its_reason(monkeypatch):
    fake_pool(
        monkeypatch, {"dynamodb-local": EngineInfo("dynamodb-local", unavailable="no Docker")}
    )
    with pytest.raises(pytest.skip.Exception, match="no Docker"):
        plugin.picked(Settings(engine="dynamodb-local"), [], "x")


def test_an_engine_that_failed_to_start_fails_the_spec_with_its_message(monkeypatch):
    fake_pool(monkeypatch, {"dynalite": EngineInfo("dynalite", error="npm failed: E404")})
    with pytest.raises(pytest.fail.Exception, match="npm failed: E404"):
        plugin.picked(Settings(engine="dynalite"), [], "x")


def test_an_unknown_capability_is_a_usage_error(monkeypatch):
    fake_pool(monkeypatch, {"dynalite": DYNALITE})
    with pytest.raises(pytest.UsageError, match="teleportation"):
        plugin.picked(Settings(), ["teleportation"], "x")


def test_the_library_refuses_with_its_own_errors_and_the_plugin_translates(monkeypatch):
    """targets.pick knows nothing of pytest: its errors carry what the plugin shows."""
    fake_pool(monkeypatch, {"dynalite": DYNALITE, "moto": EngineInfo("moto", error="E404")})
    with pytest.raises(NoEngineCapable) as none:
        targets.pick(Settings(engine="dynalite"), ["transactions"], "x")
    assert none.value.reasons == [
        "dynalite lacks transactions (TransactWriteItems and TransactGetItems)"
    ]
    with pytest.raises(EngineFailed, match=r"^engine moto: E404$"):
        targets.pick(Settings(), ["transactions"], "x")
    with pytest.raises(UsageError, match="teleportation"):
        targets.pick(Settings(), ["teleportation"], "x")
    with pytest.raises(UsageError, match="--aws and --engine moto contradict"):
        config.chosen_engine("moto", aws=True, url=None)


def test_an_xdist_worker_makes_no_header():
    """Only the controller's is shown; a worker's would be made for nothing."""
    assert plugin.pytest_report_header(SimpleNamespace(workerinput={})) == []


def test_table_names_carry_run_worker_and_spec(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    target = targets.Target(MOTO, Settings(table_prefix="p", run_id="r1"), "sparse")
    assert target.table_name("employees") == "p-r1-gw1-sparse-employees"


def test_engine_info_round_trips_through_json():
    info = EngineInfo("moto", endpoint_url="http://127.0.0.1:1", capabilities={"streams": True})
    assert EngineInfo.from_json(info.to_json()) == info


def test_only_aws_tables_are_tagged():
    local = targets.Target(MOTO, Settings(run_id="r"), "x")
    aws = targets.Target(EngineInfo("aws", endpoint_url=None), Settings(run_id="r"), "x")
    assert local.tags() is None
    assert aws.tags()["ddbspec-run"] == "r"


def test_the_run_touches_only_its_own_tables(tmp_path):
    """A table that was there before the run is left as it was; the run's are all gone."""
    settings = Settings(run_id="host", state_dir=tmp_path, owner_pid=os.getpid())
    info = registry.acquire(settings, "moto")
    try:
        ddb = info.client()
        ddb.create_table(
            TableName="someone-elses",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        ddb.put_item(TableName="someone-elses", Item={"pk": {"S": "mine"}})
        result = run_suite(
            "specs",
            "--endpoint-url",
            info.endpoint_url,
            "-k",
            "overloading and wa or locking",
            tmp=tmp_path,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert ddb.list_tables()["TableNames"] == ["someone-elses"]
        assert ddb.scan(TableName="someone-elses")["Items"] == [{"pk": {"S": "mine"}}]
    finally:
        registry.release_all(settings)


def test_the_scale_travels_with_the_settings_to_xdist_workers(tmp_path):
    settings = Settings(scale=config.FULL_SCALE, store="scale-250", state_dir=tmp_path)
    assert Settings.from_json(settings.to_json()) == settings
    assert Settings().scale == config.DEFAULT_SCALE


def test_dynalite_keeps_data_on_disk_in_a_store_per_scale():
    assert config.store_for(config.DEFAULT_SCALE) == f"scale-{config.DEFAULT_SCALE}"
    assert config.store_for(config.FULL_SCALE) == "scale-250"


def test_the_cache_follows_xdg_cache_home_for_the_suite_and_the_cli(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings().cache_dir == config.default_cache_dir() == tmp_path / "ddbspec"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # unset in effect, as the XDG spec reads it
    assert Settings().cache_dir.parts[-2:] == (".cache", "ddbspec")


@pytest.mark.parametrize(
    "args", [("--collect-only", "-q", "tests"), ("tests/capacity/test_model.py", "-q")]
)
def test_a_run_that_needs_no_engine_installs_and_starts_none(tmp_path, args):
    cache = tmp_path / "cache"
    cache.mkdir()
    result = run_suite(*args, tmp=tmp_path, env={"XDG_CACHE_HOME": str(cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(cache.iterdir()) == []  # dynalite is installed when a spec first needs it


def test_the_plugin_is_an_entry_point_that_conftest_does_not_load_twice(tmp_path):
    """An installed package hands pytest its plugin (``pytest11``), named after its module, the
    name conftest.py's ``pytest_plugins`` gives it: pytest registers it once under that name,
    and a checkout that is not installed still loads it through conftest.py."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"ddbspec.plugin": "ddbspec.plugin"}
    loaded_first = run_suite("-p", "ddbspec.plugin", "--help", tmp=tmp_path)  # as pytest11 does
    assert loaded_first.returncode == 0, loaded_first.stderr
    assert "--scale" in loaded_first.stdout


@pytest.mark.parametrize(
    ("workers", "chosen", "dist"),
    [(2, "no", "loadscope"), (2, "load", "load"), (2, "each", "each"), (None, "no", "no")],
)
def test_xdist_keeps_each_module_on_one_worker_unless_told_otherwise(workers, chosen, dist):
    """Exercise 1's steps share a table and its clock in order: under xdist's default (load)
    its six specs were spread over both workers, and the later steps failed (KeyError)."""
    options = SimpleNamespace(numprocesses=workers, dist=chosen, loadscopereorder=True)
    hook = plugin.pytest_cmdline_main(SimpleNamespace(option=options))
    next(hook)
    assert options.dist == dist
    # modules in the order collected (the long ones early), not by their count of tests
    assert options.loadscopereorder is (dist != "loadscope")
    with pytest.raises(StopIteration):
        hook.send(0)


def test_the_first_sigterm_is_passed_on_to_the_workers_and_a_worker_ignores_more_quietly(
    capfd,
):
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        term = TermAsInterrupt()
        term.relay_to.update({worker.pid, 2**22 + 1})  # one of them has already ended
        term.install()
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
        assert worker.wait(10) == -signal.SIGTERM
        term.restore()

        quiet = TermAsInterrupt(quiet=True)
        quiet.install()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # the controller's relay after the group's own
        assert quiet.ignored == 1 and "ignored" not in capfd.readouterr().err
        quiet.restore()
    finally:
        worker.kill()
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_is_handled_as_ctrl_c_once_then_ignored_and_given_back():
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        term = TermAsInterrupt()
        term.install()
        assert signal.getsignal(signal.SIGTERM) == term._received  # else a SIGTERM kills pytest
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # while the run cleans up: ignored
        assert term.ignored == 1
        term.restore()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # whoever started the run wants it ignored
        TermAsInterrupt().install()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
