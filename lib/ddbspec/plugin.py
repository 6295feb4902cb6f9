"""The pytest plugin: options, engines shared by xdist workers, fixtures, header and summary.

The controller (the pytest process itself, or xdist's controller) decides the run's settings,
checks the data and the chosen engines, and stops every engine at the end, Ctrl-C included.
Engines start lazily in whichever process first needs them (``engines.acquire``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ddbspec import aws, clients, engines, progress, targets
from ddbspec.datasets import verify_manifest
from ddbspec.engines import Settings
from ddbspec.errors import DdbSpecError

REPO = Path(__file__).resolve().parents[2]
EXERCISES = {
    "capacity": 1,
    "scan": 2,
    "sharding": 3,
    "overloading": 4,
    "sparse": 5,
    "composite": 6,
    "locking": 7,
    "streams": 8,
}
FULL_SCALE = 250
DEFAULT_SCALE = 4
SETTINGS = pytest.StashKey[Settings]()


def scale(text: str) -> int:
    """--scale: copies of each medium log row; 'full' is the workshop's 250."""
    if text == "full":
        return FULL_SCALE
    try:
        copies = int(text)
    except ValueError:
        copies = 0
    if not 1 <= copies <= FULL_SCALE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the scale is the number of copies of each medium log row, a whole "
            f"number from 1 to {FULL_SCALE} ({FULL_SCALE}, or 'full', is the workshop's "
            "1,000,000-item table; more would repeat requestids and so overwrite items)"
        )
    return copies


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ddbspec", "DynamoDB design-pattern specs")
    group.addoption(
        "--engine",
        choices=["auto", *engines.ENGINES],
        default="auto",
        help="engine to run the specs on; auto (default) runs each spec on the "
        f"first of {', '.join(engines.POOL)} that has what it needs",
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
        "--data-dir",
        type=Path,
        default=REPO / "data",
        help="folder of the workshop CSVs and their manifest.json (default: data/)",
    )
    group.addoption(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ddbspec",
        help="where engines are provisioned and keep data (default: ~/.cache/ddbspec)",
    )


def store_for(copies: int) -> str | None:
    """Where dynalite keeps its data: in memory at the default scale (nothing there is worth
    keeping), on disk in a store per scale above it, where the loaded log tables are reused
    by the next run."""
    return None if copies <= DEFAULT_SCALE else f"scale-{copies}"


def _engine(config: pytest.Config) -> str:
    engine, aws, url = (config.getoption(o) for o in ("engine", "aws", "endpoint_url"))
    if aws and engine not in ("auto", "aws"):
        raise pytest.UsageError(f"--aws and --engine {engine} contradict each other: pick one.")
    if url and engine not in ("auto", "endpoint"):
        raise pytest.UsageError(f"--endpoint-url is for --engine endpoint, not {engine}.")
    if aws and url:
        raise pytest.UsageError("--aws and --endpoint-url contradict each other: pick one.")
    chosen = "aws" if aws else "endpoint" if url else engine
    if chosen == "endpoint" and not url:
        raise pytest.UsageError("--engine endpoint needs --endpoint-url URL.")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        raw = json.loads(worker["ddbspec"])
        config.stash[SETTINGS] = Settings(
            **{**raw, "cache_dir": Path(raw["cache_dir"]), "state_dir": Path(raw["state_dir"])}
        )
        return
    settings = Settings(
        engine=_engine(config),
        endpoint_url=config.getoption("endpoint_url"),
        region=config.getoption("region"),
        table_prefix=config.getoption("table_prefix"),
        run_id=uuid.uuid4().hex[:8],
        keep_tables=config.getoption("keep_tables"),
        aws_capacity=config.getoption("aws_capacity"),
        store=store_for(config.getoption("scale")),
        cache_dir=config.getoption("cache_dir"),
        state_dir=Path(tempfile.mkdtemp(prefix="ddbspec-run-")),
        owner_pid=os.getpid(),
    )
    config.stash[SETTINGS] = settings
    config.pluginmanager.register(Summary(settings.engine), "ddbspec-summary")
    progress.show_with(terminal_lines(config))
    try:
        config._ddbspec_data = verify_manifest(config.getoption("data_dir"))  # type: ignore[attr-defined]
        for name in targets.pool(settings):
            engines.ENGINES[name].check(settings)
    except DdbSpecError as error:
        shutil.rmtree(settings.state_dir, ignore_errors=True)
        raise pytest.UsageError(str(error)) from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: hand the controller's settings to each worker."""
    settings = node.config.stash[SETTINGS]
    node.workerinput["ddbspec"] = json.dumps(dataclasses.asdict(settings), default=str)


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or SETTINGS not in config.stash:
        return
    settings = config.stash[SETTINGS]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for engine, deleted in targets.sweep_run(settings).items():
        (reporter.write_line if reporter else print)(
            f"ddbspec: run {settings.run_id}'s end deleted on {engine} what was still "
            f"standing ({len(deleted)}: shared tables, what an interrupt left): "
            + ", ".join(deleted)
        )
    engines.release_all(settings)
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    progress.show_with(None)


def terminal_lines(config: pytest.Config) -> Callable[[str], None]:
    """A sink for ``progress.say``: the line on the terminal, through pytest's capture."""

    def show(line: str) -> None:
        capture = config.pluginmanager.get_plugin("capturemanager")
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if capture is None or reporter is None:
            return
        terminal = config.get_terminal_writer()
        with capture.global_and_fixture_disabled():
            if terminal.width_of_current_line:  # after a test's dot
                terminal.line()
            terminal.line(f"ddbspec: {line}")

    return show


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[SETTINGS]
    names = targets.pool(settings)
    described = ", ".join(f"{n} {engines.ENGINES[n].version()}" for n in names)
    data = config.getoption("data_dir")
    lines = [
        f"ddbspec: engine {settings.engine} ({described}); run {settings.run_id}; "
        f"scale {config.getoption('scale')}; data {data} (manifest verified)"
    ]
    if settings.engine == "aws":
        lines.append(aws_header(settings, config.getoption("scale")))
    return lines


def aws_header(settings: Settings, copies: int) -> str:
    """Before anything is created: where, as whom, what, and what it may cost."""
    info = engines.ENGINES["aws"].start(settings)
    base = f"{settings.table_prefix}-{settings.run_id}-"
    return (
        f"ddbspec: AWS account {aws.account(info)}, region {info.region}: creates tables "
        f"{base}* and, for exercise 8, a Lambda function, its IAM role (service-role/) and "
        f"its log group named {base}*-replica, all tagged {aws.RUN_TAG}={settings.run_id} and "
        f"deleted when the run ends. Cost: the employee exercises "
        f"{aws.employee_estimate(settings.aws_capacity)}; the log tables at scale {copies} "
        f"{aws.log_estimate(settings.aws_capacity, copies)}; exercise 1 "
        f"{aws.capacity_estimate(settings.aws_capacity)}"
    )


@pytest.fixture(scope="session")
def ddbspec_settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path:
    """The verified folder of workshop CSVs (the manifest was checked at start)."""
    return pytestconfig.getoption("data_dir")


def exercise_of(path: str) -> str:
    """'4 overloading' for specs/test_overloading.py (or a node id in it)."""
    module = Path(path.split("::")[0]).stem.removeprefix("test_")
    number = next((n for key, n in EXERCISES.items() if key in module), None)
    return f"{number} {module}" if number else module


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, ddbspec_settings: Settings) -> targets.Target:
    """The engine this spec module runs on: the first in the pool with what it ``needs``."""
    needs = [c for mark in request.node.iter_markers("needs") for c in mark.args]
    label = exercise_of(str(request.node.path)).split()[-1].replace("_", "-")
    return targets.pick(ddbspec_settings, needs, label)


class Figures:
    """What a spec measured, next to the figures model and what the workshop printed."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item

    def record(
        self,
        name: str,
        measured: Any,
        expected: Any,
        printed: Any = None,
        at_least: bool = False,
        within: float = 0,
    ) -> None:
        """``expected`` is the figures model's value (matched ``within`` a tolerance, for a
        figure timing decides), or with ``at_least`` a target to reach, or None for a figure
        only measured (a speed-up that depends on the engine)."""
        row = {
            "name": name,
            "measured": measured,
            "expected": expected,
            "printed": printed,
            "at_least": at_least,
            "within": within,
        }
        self.item.user_properties.append(("ddbspec.figure", json.dumps(row, default=str)))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node)


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
    elif error is not None and (denied := aws.refused(error)):
        report.longrepr = denied
    return report


def compared(row: dict[str, Any]) -> str:
    """'== model 46', or '>= target 0.9' for a target; the sign says whether it holds."""
    measured, expected = row["measured"], row["expected"]
    if expected is None:
        return "(measured only)"
    if row.get("at_least"):
        return f"{'>=' if measured >= expected else '<'} target {expected!s:<7}"
    if row.get("within"):
        held = measured is not None and abs(measured - expected) <= row["within"]
        return f"{'~=' if held else '!='} model {expected!s:<8}"
    return f"{'==' if measured == expected else '!='} model {expected!s:<8}"


class Summary:
    """Collects, in the controller, what the specs recorded, and prints it at the end."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.results: dict[str, dict] = defaultdict(lambda: {"engines": set(), "figures": {}})
        self.retries: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        ours = [(k, v) for k, v in report.user_properties if k.startswith("ddbspec.")]
        if report.when != "teardown" or not ours:
            return
        result = self.results[exercise_of(report.nodeid)]
        for key, value in ours:
            if key == "ddbspec.engine":
                result["engines"].add(value)
            elif key == "ddbspec.retries":
                self.retries.update(json.loads(value))
            elif key == "ddbspec.figure":
                row = json.loads(value)
                result["figures"][row["name"]] = row

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results:
            return
        tr = terminalreporter
        tr.section("ddbspec: what each exercise measured")
        for exercise in sorted(self.results, key=lambda e: (not e[0].isdigit(), e)):
            result = self.results[exercise]
            served = ", ".join(sorted(result["engines"])) or "-"
            tr.write_line(f"exercise {exercise}: on {served}")
            for row in result["figures"].values():
                printed = "" if row["printed"] is None else f'  workshop printed "{row["printed"]}"'
                tr.write_line(
                    f"    {row['name']:<50} measured {row['measured']!s:>8} "
                    f"{compared(row)}{printed}"
                )
        tr.write_line(retried(self.retries, self.engine))


def retried(counts: Counter[str], engine: str) -> str:
    """The SDK's retries in the run, by cause: throttling and transient errors are retried,
    never hidden."""
    mode = "adaptive" if engine == "aws" else "standard"
    if not counts:
        return f"SDK retries ({mode} mode): none"
    causes = ", ".join(f"{code} {n}" for code, n in counts.most_common())
    return f"SDK retries ({mode} mode): {sum(counts.values())} ({causes})"
