"""The pytest plugin: hooks, options and fixtures (what they report is ``ddbspec.summary``).

The controller (the pytest process itself, or xdist's controller) decides the run's settings,
checks the data and the chosen engines, and stops every engine at the end, Ctrl-C included;
SIGTERM is handled as Ctrl-C in every process of the run (``ddbspec.sigterm``).
Engines start lazily in whichever process first needs them (``registry.acquire``).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ddbspec import progress, summary, targets, timings
from ddbspec.aws import account, sweep
from ddbspec.bench import describe, plan
from ddbspec.capacity import prices
from ddbspec.config import (
    DEFAULT_SCALE,
    FULL_SCALE,
    Settings,
    chosen_engine,
    default_cache_dir,
    scale,
    store_for,
)
from ddbspec.engines import clients, registry
from ddbspec.errors import DdbSpecError, EngineFailed, NoEngineCapable, UsageError
from ddbspec.sigterm import TermAsInterrupt
from ddbspec.workshop.datasets import verify_manifest

REPO = Path(__file__).resolve().parents[2]
SETTINGS = pytest.StashKey[Settings]()
SIGTERM = pytest.StashKey[TermAsInterrupt]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ddbspec", "DynamoDB design-pattern specs")
    group.addoption(
        "--engine",
        choices=["auto", *registry.ENGINES],
        default="auto",
        help="engine to run the specs on; auto (default) runs each spec on the "
        f"first of {', '.join(registry.POOL)} that has what it needs (exercises "
        f"{', '.join(registry.FIRST)} try {', '.join(sorted(set(registry.FIRST.values())))} "
        "first: measured faster there)",
    )
    group.addoption(
        "--aws", action="store_true", help="run on a live AWS account (same as --engine aws)"
    )
    group.addoption(
        "--endpoint-url",
        metavar="URL",
        help="a DynamoDB-compatible endpoint already running (DynamoDB Local, "
        "LocalStack, ScyllaDB Alternator); implies --engine endpoint",
    )
    group.addoption(
        "--container-image",
        metavar="NAME",
        help="the image --engine container runs: a preset (dynamodb-local, dynalite, moto, "
        "ministack) or any DynamoDB-compatible image reference (with --container-port); "
        "implies --engine container",
    )
    group.addoption(
        "--container-port",
        type=int,
        metavar="PORT",
        help="the port an image of no preset listens on, on the host's network",
    )
    group.addoption(
        "--container-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a container may take to answer DynamoDB's API (default 60)",
    )
    group.addoption("--region", help="AWS region (default: the boto3 chain's; us-east-1 locally)")
    group.addoption(
        "--table-prefix",
        default="ddbspec",
        help="prefix of every table name the run creates (default: ddbspec)",
    )
    group.addoption(
        "--aws-capacity",
        choices=["on-demand", "workshop"],
        default="on-demand",
        help="on AWS: on-demand tables (default, cheap), or the workshop's provisioned capacity",
    )
    group.addoption(
        "--keep-tables",
        action="store_true",
        help="leave the tables the specs created, to look at them afterwards",
    )
    group.addoption(
        "--scale",
        type=scale,
        default=DEFAULT_SCALE,
        metavar="N|full",
        help=f"copies of each medium log row in the log tables, 1..{FULL_SCALE} "
        f"(default {DEFAULT_SCALE}; full = {FULL_SCALE}, the workshop's 1M items)",
    )
    group.addoption(
        "--bench-rounds",
        type=plan.count,
        default=plan.ROUNDS,
        metavar="N",
        help="rounds of each ratio of the loader and scan benchmarks "
        f"(default {plan.ROUNDS}); fewer: a quicker run, a wider spread",
    )
    group.addoption(
        "--bench-parts",
        type=plan.count,
        metavar="N",
        help="the loader benchmarks write only their first N parts of about 500 items "
        "(default: every part): a smaller table, a quicker run",
    )
    group.addoption(
        "--prices",
        type=Path,
        metavar="FILE",
        help="a TOML file of prices per million read and write request units, to show each "
        "way's cost in money too (none is built in: prices differ by region and change)",
    )
    group.addoption(
        "--data-dir",
        type=Path,
        default=REPO / "data",
        help="folder of the workshop CSVs and their manifest.json (default: data/)",
    )
    group.addoption(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="where engines are provisioned and keep data (default: ~/.cache/ddbspec, or under "
        "$XDG_CACHE_HOME)",
    )


def decided(option: Callable[[str], Any]) -> Settings:
    """The run's settings, decided once in the controller from its options."""
    copies = option("scale")
    return Settings(
        engine=chosen_engine(
            option("engine"), option("aws"), option("endpoint_url"), option("container_image")
        ),
        endpoint_url=option("endpoint_url"),
        region=option("region"),
        table_prefix=option("table_prefix"),
        scale=copies,
        run_id=uuid.uuid4().hex[:8],
        keep_tables=option("keep_tables"),
        aws_capacity=option("aws_capacity"),
        store=store_for(copies),
        cache_dir=option("cache_dir"),
        state_dir=Path(tempfile.mkdtemp(prefix="ddbspec-run-")),
        owner_pid=os.getpid(),
        container_image=option("container_image"),
        container_port=option("container_port"),
        container_timeout=option("container_timeout"),
    )


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Any:
    """xdist: a spec module is one exercise, whose tests may be steps of one walk-through
    (exercise 1's share a table and its clock, in order), and whose tables its workers
    would each build again; xdist's default (``load``) spreads a module's tests over the
    workers. Unless the user chose a --dist mode, it is loadscope: one module, one worker.
    (loadgroup, which could group only some, no longer groups under pytest 9.2.)

    Its modules are handed out in the order collected, not xdist's default of the most
    tests first: a module's test count says nothing of its time, and that order left the
    AWS path's one-minute run (three tests) and the gate's (one) for last, a worker idle
    while the other ran them (152 s against 138 s, `pytest specs tests -n 2`)."""
    if getattr(config.option, "numprocesses", None) and config.option.dist == "no":
        config.option.dist = "loadscope"  # before xdist's own hook, which would make it load
        config.option.loadscopereorder = False
    return (yield)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The run's header, in the controller: an xdist worker's is shown nowhere, and on AWS
    it would cost each worker the account's lookup and a client of every service (1-2 s)."""
    if hasattr(config, "workerinput"):
        return []
    settings = config.stash[SETTINGS]
    return summary.header(settings, config.getoption("data_dir"))


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", None)
    config.stash[SIGTERM] = TermAsInterrupt(quiet=worker is not None)
    config.stash[SIGTERM].install()  # in xdist's workers too: a group's SIGTERM reaches them
    if worker is not None:
        config.stash[SETTINGS] = Settings.from_json(worker["ddbspec"])
        return
    try:
        settings = decided(config.getoption)
        given = config.getoption("prices")
        priced = prices.load(given) if given else None
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[SETTINGS] = settings
    config.pluginmanager.register(summary.Summary(settings.engine, priced), "ddbspec-summary")
    if timed := os.environ.get(timings.ENV):  # ddbspec bench feedback asked where time goes
        config.pluginmanager.register(timings.Timings(Path(timed), settings.state_dir))
    progress.show_with(summary.terminal_lines(config))
    try:
        verify_manifest(config.getoption("data_dir"))
        for name in targets.pool(settings):  # cheap checks: nothing is installed or started
            registry.ENGINES[name].check(settings)
    except DdbSpecError as error:
        shutil.rmtree(settings.state_dir, ignore_errors=True)
        raise pytest.UsageError(str(error)) from None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodeready(node: Any) -> None:
    """xdist: a worker the controller passes its SIGTERM on to. Its pid is execnet's
    remote info, which xdist reads when it sets the worker up and keeps (for pytest-cov):
    reading it here asks the busy worker nothing."""
    node.config.stash[SIGTERM].relay_to.add(node.gateway._rinfo().pid)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    node.config.stash[SIGTERM].relay_to.discard(node.gateway._rinfo().pid)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: hand the controller's settings to each worker."""
    settings = node.config.stash[SETTINGS]
    node.workerinput["ddbspec"] = settings.to_json()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The specs are done: what follows is cleanup (xdist's workers stopping, the sweep)."""
    if SIGTERM in session.config.stash:
        session.config.stash[SIGTERM].cleaning()


def pytest_unconfigure(config: pytest.Config) -> None:
    # At exit the interpreter collects every cycle before it drops them all anyway: a third
    # of a second after `pytest -k sparse` (boto3's models, pytest's). Frozen, they are
    # skipped; a process that runs pytest.main and goes on is not affected until it exits.
    atexit.register(gc.freeze)
    sigterm = config.stash.get(SIGTERM, None)
    if sigterm is not None:
        sigterm.cleaning()
    try:
        if not hasattr(config, "workerinput") and SETTINGS in config.stash:
            ended(config, config.stash[SETTINGS])
    finally:
        if sigterm is not None:
            sigterm.restore()


def ended(config: pytest.Config, settings: Settings) -> None:
    """The run's end in the controller: sweep what is still standing, stop the engines."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for engine, swept in sweep.sweep_run(settings).items():
        for line in summary.swept(settings.run_id, engine, swept):
            (reporter.write_line if reporter else print)(line)
    registry.release_all(settings)
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    progress.show_with(None)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """pytest-benchmark: what runs must share to compare (its --benchmark-compare warns)."""
    machine_info["ddbspec"] = describe.machine(config.stash[SETTINGS])


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list, output_json: dict
) -> None:
    """pytest-benchmark: a saved run says what it measured, where, from which commit."""
    output_json["ddbspec"] = describe.run(config.stash[SETTINGS], output_json)


@pytest.fixture(scope="session")
def ddbspec_settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def bench_plan(pytestconfig: pytest.Config) -> plan.Plan:
    """How much the alternating benchmarks measure (--bench-rounds, --bench-parts)."""
    return plan.Plan(pytestconfig.getoption("bench_rounds"), pytestconfig.getoption("bench_parts"))


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path:
    """The verified folder of workshop CSVs (the manifest was checked at start)."""
    return pytestconfig.getoption("data_dir")


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, ddbspec_settings: Settings) -> targets.Target:
    """The engine this spec module runs on: the first in the pool with what it ``needs``."""
    needs = [c for mark in request.node.iter_markers("needs") for c in mark.args]
    label = summary.label_of(summary.exercise_of(str(request.node.path)))
    return picked(ddbspec_settings, needs, label)


@pytest.fixture(scope="session")
def pick_target(ddbspec_settings: Settings) -> Callable[[list[str], str], targets.Target]:
    """For a spec that needs a second engine of its own: ``pick_target(needs, label)``, its
    refusals as pytest's, as for ``target``."""
    return lambda needs, label: picked(ddbspec_settings, needs, label)


def picked(settings: Settings, needs: list[str], label: str) -> targets.Target:
    """``targets.pick``, its refusals as pytest's: a usage error, a failed spec, a skip."""
    try:
        return targets.pick(settings, needs, label)
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
    except EngineFailed as error:
        pytest.fail(str(error), pytrace=False)
    except NoEngineCapable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def capture_off(pytestconfig: pytest.Config) -> Callable[[], contextlib.AbstractContextManager]:
    """A new context manager at each call, inside which pytest's output capture is off: a
    long load's progress bar reaches the terminal (``tlog_scan.shared``'s ``terminal``)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    return contextlib.nullcontext if capture is None else capture.global_and_fixture_disabled


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> summary.Figures:
    return summary.Figures(request.node)


@pytest.fixture
def costs(request: pytest.FixtureRequest, target: targets.Target) -> summary.Costs:
    """Each way's costs, for the summary and the report; on the service itself (``--aws``),
    a way whose metered figures differ from the service's fails: the model is wrong there."""
    return summary.Costs(request.node, reference=target.info.reference)


@pytest.fixture(autouse=True)
def _ddbspec_engine_served(request: pytest.FixtureRequest) -> Any:
    """Record which engine served each spec, for the summary."""
    yield
    if "target" in request.fixturenames:
        info = request.getfixturevalue("target").info
        request.node.user_properties.append(("ddbspec.engine", f"{info.name} {info.version}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """The suite's own errors say what to do: show their message, not a traceback."""
    report = yield
    if call.when == "teardown" and (retried := clients.RETRIES.take()):
        report.user_properties.append(("ddbspec.retries", json.dumps(retried)))
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, DdbSpecError):
        report.longrepr = f"{type(error).__name__}: {error}"
    elif error is not None and (denied := account.refused(error)):
        report.longrepr = denied
    return report
