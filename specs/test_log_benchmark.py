"""Loading and scanning tlog_scan, measured (benchmarks, not specs).

The loader against the engine's ceiling (``workshop.write_ceiling``: a raw BatchWriteItem loop at
its best worker count) and against a loader written the way the workshop wrote it (boto3's
resource, batch_writer, one thread per file); the parallel scan against the sequential one.
Each ratio's sides take turns, part by part, in rounds (``ddbspec.bench.rounds``); the
ratios go to the run's summary and to its saved JSON. Run with ``pytest -m benchmark -n 0``;
``--scale`` sets the table's size, ``--bench-rounds`` and ``--bench-parts`` how much of it is
measured (``ddbspec.bench.plan``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ddbspec.bench import describe, rounds
from ddbspec.workshop import loaders, scans, tables, tlog_scan, write_ceiling
from ddbspec.workshop.datasets import (
    FileOrder,
    LogRow,
    LogTableLayout,
    log_item,
    log_table_items,
    log_wire_items,
    read_log_rows,
)

pytestmark = pytest.mark.benchmark
TARGET = 0.9  # issue: the loader reaches 90% of the engine's ceiling


@pytest.fixture(scope="module")
def files(data_dir):
    return [data_dir / name for name in tlog_scan.MEDIUM_FILES]


@pytest.fixture(scope="module")
def table(target):
    with target.table(tables.TLOG_SCAN, "tlog_bench") as name:
        yield name


@pytest.fixture(scope="module")
def parts(files, scale) -> list[tuple[list[LogRow], ...]]:
    """Each file's rows in parts, each part every copy of its rows: about PART_ITEMS items."""
    rows = [list(read_log_rows(path)) for path in files]
    count = rounds.parts_of(sum(map(len, rows)) * scale)
    return list(zip(*(rounds.split(r, count) for r in rows), strict=True))


def part_items(part: tuple[list[LogRow], ...], scale: int) -> Iterator[dict]:
    """A part's items in wire format, worker by worker, row by row, copy by copy."""
    for worker, rows in enumerate(part):
        for row in rows:
            yield from log_wire_items(row, worker, range(scale))


@pytest.fixture(scope="module")
def prebuilt(files, scale, parts, bench_plan) -> list[list[list[dict]]]:
    """Each part's BatchWriteItem batches, built before the clock starts; together, the
    items datasets.log_table_items writes. The first --bench-parts of them are measured."""
    built = [list(part_items(part, scale)) for part in parts]
    table_items = log_table_items(LogTableLayout.of(files, scale, FileOrder.NATURAL))
    by_id = {item["requestid"]["N"]: item for part in built for item in part}
    assert len(by_id) == sum(map(len, built))  # no id in two parts
    assert by_id == {item["requestid"]["N"]: item for item in table_items}
    return bench_plan.cut(
        [list(loaders.batches({"PutRequest": {"Item": i}} for i in part)) for part in built]
    )


@pytest.fixture(scope="module")
def best_workers(target, table, prebuilt) -> int:
    return write_ceiling.best_workers(target.client(), table, prebuilt)


def workshop_loader(resource: Any, table: str, part: tuple[list[LogRow], ...], scale: int) -> None:
    """load_logfile_parallel.py's way: a thread per file, boto3's resource and batch_writer."""

    def load_file(worker: int) -> None:
        with resource.Table(table).batch_writer() as writer:
            for row in part[worker]:
                for copy in range(scale):
                    writer.put_item(Item=log_item(row, worker, copy))

    threads = [threading.Thread(target=load_file, args=(w,)) for w in range(len(part))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_log_loader(
    benchmark, target, table, parts, scale, prebuilt, best_workers, bench_plan, figures
):
    client = target.client()
    resource = boto3.resource(
        "dynamodb",
        endpoint_url=target.info.endpoint_url,
        region_name=target.info.region,
        aws_access_key_id="ddbspec",
        aws_secret_access_key="ddbspec",
    )

    def raw(part: int) -> None:
        write_ceiling.raw_batch_write(client, table, prebuilt[part], best_workers)

    def workshop(part: int) -> None:
        workshop_loader(resource, table, parts[part], scale)

    def loader(part: int) -> None:
        items = part_items(parts[part], scale)
        loaders.load(client, table, items, workers=best_workers, serialized=True)

    sides = {"raw": raw, "workshop": workshop, "loader": loader}
    measured = rounds.alternate(benchmark, sides, bench_plan.rounds, parts=len(prebuilt))
    items = sum(len(batch) for part in prebuilt for batch in part)
    describe.benchmark(benchmark, target, items=items, workers=best_workers, **measured.info())
    to_raw = measured.speed("loader", over="raw", target=TARGET)
    rounds.record(benchmark, figures, "log loader / raw BatchWriteItem", to_raw)
    to_workshop = measured.speed("loader", over="workshop", target=1.0)
    rounds.record(benchmark, figures, "log loader / the workshop's loader", to_workshop)


def test_parallel_scan(benchmark, target, tlog_natural, bench_plan, figures):
    client = target.client()
    sides = {
        "sequential": lambda part: scans.sequential_scan(client, tlog_natural.name),
        "parallel": lambda part: scans.parallel_scan(client, tlog_natural.name),
    }
    measured = rounds.alternate(benchmark, sides, bench_plan.rounds)
    describe.benchmark(
        benchmark,
        target,
        items=tlog_natural.model.items,
        segments=scans.WORKSHOP_SEGMENTS,
        **measured.info(),
    )
    # No target: a single-threaded engine (dynalite is one node process) cannot scan
    # segments at once, where DynamoDB serves each from its own partitions.
    speedup = measured.speed("parallel", over="sequential")
    rounds.record(
        benchmark, figures, f"parallel scan ({scans.WORKSHOP_SEGMENTS} segments) speed-up", speedup
    )
