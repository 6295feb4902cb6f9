"""How close each loader comes to a throttling table's provisioned rate (a benchmark).

Each loader writes the same log rows into a fresh table shaped like the workshop's tlog,
behind the capacity gateway on the real clock: a fresh table has no burst credit, so a
loader faster than the provisioned rate is throttled from the start. Two tables: one of
100 WCU with an index of 100 WCU, and one whose index has 25 WCU, the index then being
what limits the load (the workshop's step 7). Reported side by side in the summary, for
each loader: the write units it achieved a second over what the limiting meter is
provisioned for, how many writes were throttled, and whether a throttling error reached its
caller. The capacity-aware loader must reach 90% with no error reaching its caller.

Run with ``pytest specs -m benchmark -k capacity -n 0``. One round per loader (each
needs a table of its own, with no credit): the ratios, not the timings, are the result.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbspec.capacity.gateway import Gateway
from ddbspec.capacity.metrics import CONSUMED, THROTTLE_EVENTS, THROTTLED_REQUESTS
from ddbspec.capacity.model import real_clock
from ddbspec.errors import LoadError
from ddbspec.workshop import datasets, loaders, pacing, tables

pytestmark = pytest.mark.benchmark
CAPACITY = 100
TARGET = 0.9  # issue: the capacity-aware loader sustains 90% of the provisioned WCU
INDEX = tables.Index(
    "host-requestid-gsi", ("host", "S"), ("requestid", "N"), "KEYS_ONLY", CAPACITY, CAPACITY
)
TABLE = tables.TableDef("bench", ("requestid", "N"), None, (INDEX,), CAPACITY, CAPACITY)
SMALL_INDEX = dataclasses.replace(TABLE, indexes=(dataclasses.replace(INDEX, write=25),))
# name: (table, the meter that limits the load (None: the table), its WCU, rows: ~4 s of it)
SCENARIOS = {
    "100 WCU": (TABLE, None, CAPACITY, 400),
    "index 25 WCU": (SMALL_INDEX, INDEX.name, 25, 100),
}


def workshop_puts(client: Any, table: str, rows: list, clock: Any) -> int:
    return pacing.load_like_the_workshop(client, table, wire(rows), clock, batch_size=1).written


def workshop_batches(client: Any, table: str, rows: list, clock: Any) -> int:
    return pacing.load_like_the_workshop(client, table, wire(rows), clock).written


def project_loader(client: Any, table: str, rows: list, clock: Any) -> int:
    items = (datasets.log_item(row, row.requestid) for row in rows)
    return loaders.load(client, table, items)


def paced(client: Any, table: str, rows: list, clock: Any) -> int:
    return pacing.load_paced(client, table, wire(rows), clock).written


def wire(rows: list) -> Iterator[dict[str, Any]]:
    return (datasets.log_wire_item(row, row.requestid) for row in rows)


LOADERS: dict[str, Callable[..., int]] = {
    "workshop: PutItem, legacy retries": workshop_puts,
    "workshop: batches of 25, legacy retries": workshop_batches,
    "ddbspec.loaders.load: 4 workers, jitter": project_loader,
    "ddbspec.pacing.load_paced": paced,
}


@pytest.fixture(scope="module")
def gateway(target) -> Iterator[Gateway]:
    if target.info.endpoint_url is None:
        pytest.skip("the benchmark measures loaders on the capacity gateway, not the service")
    with Gateway(target.info.endpoint_url, real_clock(), region=target.info.region) as gw:
        yield gw
    assert not gw.errors, gw.errors[0]


@pytest.fixture(scope="module")
def log_rows(data_dir: Path) -> list[datasets.LogRow]:
    return list(datasets.read_log_rows(data_dir / "logfile_medium1.csv"))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("loader", LOADERS)
def test_loader_on_a_throttling_table(
    benchmark, target, gateway, log_rows, loader, scenario, figures
):
    definition, meter, capacity, count = SCENARIOS[scenario]
    rows = log_rows[:count]
    info = dataclasses.replace(target.info, endpoint_url=gateway.url)
    client = info.client(retries={"mode": "standard", "total_max_attempts": 1})
    if loader == "ddbspec.loaders.load: 4 workers, jitter":
        client = info.client()  # it relies on the SDK's retries too, as shipped
    results: dict[str, Any] = {}

    def fresh_table() -> tuple[tuple, dict]:
        name = target.table_name(f"bench-{time.monotonic_ns()}")
        request = tables.create_table_request(definition, name)
        client.create_table(**request)
        tables.wait_active(client, name, target.waits)
        results["table"] = name
        return (name,), {}

    def run(name: str) -> None:
        start = gateway.clock.now()
        try:
            results["written"] = LOADERS[loader](client, name, rows, gateway.clock)
        except (ClientError, LoadError) as problem:
            results["error"] = problem
        results["window"] = (start, gateway.clock.now())

    try:
        benchmark.pedantic(run, setup=fresh_table, rounds=1, iterations=1)
    finally:
        tables.delete_table(client, results["table"], target.waits)
    name, (start, end) = results["table"], results["window"]
    metrics = gateway.metrics
    units = metrics.total(CONSUMED["write"], name, meter, start=start, end=end + 1)
    ratio = units / (end - start) / capacity
    throttled = sum(
        metrics.total(THROTTLE_EVENTS["write"], name, index, start=start, end=end + 1)
        for index in (None, INDEX.name)
    )
    requests = metrics.total(THROTTLED_REQUESTS, name, start=start, end=end + 1)
    error = results.get("error")
    benchmark.extra_info.update(
        achieved_over_provisioned=round(ratio, 3),
        throttle_events=throttled,
        throttled_requests=requests,
        error_to_caller=str(error) if error else None,
    )
    label = f"{scenario}, {loader}"
    figures.record(f"{label}: achieved / provisioned WCU", round(ratio, 2), TARGET, at_least=True)
    figures.record(f"{label}: writes throttled", int(throttled), 0)
    figures.record(f"{label}: errors reaching the caller", int(error is not None), 0)
    if loader == "ddbspec.pacing.load_paced":
        assert error is None, f"a throttling error reached the caller: {error}"
        assert results["written"] == count
        assert ratio >= TARGET
