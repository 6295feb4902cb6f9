"""What a run tells its user: the header, the progress lines, the figures each spec recorded
beside the figures model and what the workshop printed, and the SDK's retries."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ddbspec import targets
from ddbspec.aws import account, cost
from ddbspec.aws.sweep import Swept
from ddbspec.capacity.costs import Spend
from ddbspec.capacity.prices import Prices
from ddbspec.config import Settings
from ddbspec.engines import clients, registry

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


def header(settings: Settings, data: Path) -> list[str]:
    """The run's first lines: the engines, the run id, the scale, the data; on AWS also the
    account, what will be created and what it may cost."""
    described = ", ".join(registry.ENGINES[n].describe(settings) for n in targets.pool(settings))
    lines = [
        f"ddbspec: engine {settings.engine} ({described}); run {settings.run_id}; "
        f"scale {settings.scale}; data {data} (manifest verified)"
    ]
    if settings.engine == "aws":
        lines.append(aws_header(settings))
    if settings.engine in ("container", "dynamodb-local"):
        lines.append(
            f"ddbspec: containers run on the host's network, labelled ddbspec.run="
            f"{settings.run_id}; the suite's guard removes them when the run ends "
            "(testcontainers' Ryuk is not used: it needs a bridge network)"
        )
    return lines


def aws_header(settings: Settings) -> str:
    """Before anything is created: where, as whom, what, and what it may cost (nothing, where
    boto3 is sent to an endpoint that is not the service)."""
    info = registry.ENGINES["aws"].start(settings)
    found = clients.elsewhere(info.region)
    base = f"{settings.table_prefix}-{settings.run_id}-"
    what = (
        f"account {account.account(info)}, region {info.region}: creates tables "
        f"{base}* and, for exercise 8, a Lambda function, its IAM role (service-role/) and "
        f"its log group named {base}*-replica, all tagged {account.RUN_TAG}={settings.run_id} and "
        "deleted when the run ends"
    )
    if len(found) == len(clients.SERVICES):
        return (
            f"ddbspec: not AWS: boto3 sends every call to {clients.sent_to(found)} "
            f"(AWS_ENDPOINT_URL*, or the profile's endpoint_url), which is not the service "
            f"and charges nothing; its {what}"
        )
    if found:
        where = f"ddbspec: partly not AWS: boto3 sends calls to {clients.sent_to(found)}; {what}"
        return where if "dynamodb" in found else f"{where}. {costs(settings)}"
    return f"ddbspec: AWS {what}. {costs(settings)}"


def costs(settings: Settings) -> str:
    """What the run's tables may cost at AWS."""
    capacity = settings.aws_capacity
    return (
        f"Cost: the employee exercises {cost.employee_estimate(capacity)}; the log tables at "
        f"scale {settings.scale} {cost.log_estimate(capacity, settings.scale)}; exercise 1 "
        f"{cost.capacity_estimate(capacity)}"
    )


def exercise_of(path: str) -> str:
    """'4 overloading' for specs/test_overloading.py (or a node id in it)."""
    module = Path(path.split("::")[0]).stem.removeprefix("test_")
    number = next((n for key, n in EXERCISES.items() if key in module), None)
    return f"{number} {module}" if number else module


def label_of(exercise: str) -> str:
    """'capacity' for '1 capacity': how table names and the engine pool know an exercise."""
    return exercise.split()[-1].replace("_", "-")


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
    ) -> dict[str, Any]:
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
        return row

    def check(
        self,
        name: str,
        measured: Any,
        expected: Any,
        printed: Any = None,
        *,
        at_least: bool = False,
        within: float = 0,
        reason: str = "",
    ) -> None:
        """Record the figure, then fail the spec unless it holds by the rule the summary
        shows it with: the summary and the verdict cannot disagree. A figure that fails stays
        recorded, so the summary shows what was measured."""
        __tracebackhide__ = True
        if expected is None:
            raise ValueError(f"figure {name!r}: a check needs an expected value; use record")
        row = self.record(name, measured, expected, printed, at_least, within)
        if not holds(row):
            raise AssertionError(failure(row, reason))


class Costs:
    """What each way of doing one thing cost, by DynamoDB's rules (``capacity.costs``), for
    the summary and the report, beside the figures."""

    def __init__(self, item: pytest.Item, reference: bool = False) -> None:
        self.item = item
        self.reference = reference  # the engine is the service: its figures are the truth

    def record(self, approach: str, spend: Spend, versus: str | None = None) -> dict[str, Any]:
        """``spend`` under ``approach``; ``versus`` names the way it is compared with. Against
        the service, a difference is the model's fault: recorded, then failed."""
        __tracebackhide__ = True
        row = {**spend.as_row(approach), "versus": versus}
        self.item.user_properties.append(("ddbspec.cost", json.dumps(row)))
        if self.reference and spend.measured and spend.differs:
            raise AssertionError(
                f"the suite's capacity model differs from the service: {approach}: "
                f"{spend.differs} (the service is the reference: fix capacity/model.py)"
            )
        return row


def cost_lines(rows: dict[str, dict[str, Any]], priced: Prices | None = None) -> list[str]:
    """Each way's units (and money, with ``priced``), the ratio to the way it is compared
    with, and whether the engine's own ConsumedCapacity agreed."""
    lines = []
    for row in rows.values():
        alone = "" if row.get("measured", True) else " (by the rules alone)"
        line = f"    cost: {row['approach']}{alone}: {spent(row)}"
        if priced:
            line += f" = {priced.say(row['rcu'], row['wcu'])}"
        other = rows.get(row.get("versus") or "")
        if other:
            line += f"; {ratio(row, other)} {other['approach']}"
        lines.append(line)
    if not any(r.get("measured", True) for r in rows.values()):
        return lines
    differs = [f"{r['approach']}: {r['differs']}" for r in rows.values() if r.get("differs")]
    lines.append(
        f"    metering: the engine's own ConsumedCapacity differs: {differs[0]}"
        if differs
        else "    metering: the engine's own ConsumedCapacity matched DynamoDB's rules"
    )
    return lines


def spent(row: dict[str, Any]) -> str:
    """'84 items read, 2.5 RCU', '4 items written, 8 WCU', or both."""
    parts = []
    if row["rcu"]:
        parts.append(f"{_items(row['items'])} read, {row['rcu']:g} RCU")
    if row["wcu"]:
        parts.append(f"{_items(row['written'])} written, {row['wcu']:g} WCU")
    return "; ".join(parts) or "nothing"


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def ratio(row: dict[str, Any], other: dict[str, Any]) -> str:
    """'1/14 of' (a fraction of the other's units), '2.00x', or 'the same as'."""
    mine, theirs = row["rcu"] + row["wcu"], other["rcu"] + other["wcu"]
    if mine == theirs:
        return "the same as"
    if mine and mine < theirs:
        return f"1/{theirs / mine:.3g} of"
    return f"{mine / theirs:.2f}x" if theirs else "more than"


def holds(row: dict[str, Any]) -> bool:
    """Whether a figure is what its row expects: the model's value (within its tolerance),
    or at least its target."""
    measured, expected = row["measured"], row["expected"]
    if row.get("at_least"):
        return measured >= expected
    if row.get("within"):
        return measured is not None and abs(measured - expected) <= row["within"]
    return measured == expected


def failure(row: dict[str, Any], reason: str = "") -> str:
    """What a failed check says: the figure, measured against expected, and why."""
    expected = repr(row["expected"])
    if row.get("at_least"):
        expected = f"at least {expected}"
    elif row.get("within"):
        expected = f"{expected} +-{row['within']}"
    message = f"figure {row['name']!r}: measured {row['measured']!r}, expected {expected}"
    if row.get("printed") is not None:
        message += f"; the workshop printed {row['printed']!r}"
    return f"{message}: {reason}" if reason else message


def compared(row: dict[str, Any]) -> str:
    """'== model 46', or '>= target 0.9' for a target; the sign says whether it holds."""
    expected = row["expected"]
    if expected is None:
        return "(measured only)"
    held = holds(row)
    if row.get("at_least"):
        return f"{'>=' if held else '<'} target {expected!s:<7}"
    if row.get("within"):
        return f"{'~=' if held else '!='} model {expected!s:<8}"
    return f"{'==' if held else '!='} model {expected!s:<8}"


class Summary:
    """Collects, in the controller, what the specs recorded, and prints it at the end."""

    def __init__(self, engine: str, priced: Prices | None = None) -> None:
        self.engine = engine
        self.priced = priced
        self.results: dict[str, dict] = defaultdict(
            lambda: {"engines": set(), "figures": {}, "costs": {}}
        )
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
                self.retries.update(json.loads(str(value)))
            elif key == "ddbspec.figure":
                row = json.loads(str(value))
                result["figures"][row["name"]] = row
            elif key == "ddbspec.cost":
                row = json.loads(str(value))
                result["costs"][row["approach"]] = row

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
            for line in cost_lines(result["costs"], self.priced) if result["costs"] else ():
                tr.write_line(line)
        if self.priced and any(r["costs"] for r in self.results.values()):
            p = self.priced
            tr.write_line(
                f"prices: {p.currency} {p.read:g} per million read and {p.write:g} per million "
                f"write request units, from {p.source}"
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


def swept(run_id: str, engine: str, what: Swept) -> list[str]:
    """The run's last lines: its shared tables deleted, as the routine they are; what an
    interrupted spec left, only when there was some; what could not be deleted, and why."""
    lines = []
    if what.shared:
        tables = "table" if len(what.shared) == 1 else "tables"
        lines.append(
            f"ddbspec: run {run_id} deleted its {len(what.shared)} shared {tables} on "
            f"{engine}: {', '.join(what.shared)}"
        )
    if what.interrupted:
        lines.append(
            f"ddbspec: run {run_id}'s end deleted on {engine} what an interrupted spec left "
            f"({len(what.interrupted)}): {', '.join(what.interrupted)}"
        )
    if what.failed:
        lines.append(
            f"ddbspec: run {run_id}'s end could NOT delete on {engine} ({len(what.failed)}): "
            + "; ".join(what.failed)
            + ("; `ddbspec sweep-aws` finds it later" if engine == "aws" else "")
        )
    return lines
