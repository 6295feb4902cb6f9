"""Loading and scanning tlog_scan, measured (benchmarks, not specs).

The loader against the engine's ceiling (``workshop.write_ceiling``: a raw BatchWriteItem loop at
its best worker count) and against a loader written the way the workshop wrote it (boto3's
resource, batch_writer, one thread per file); the parallel scan against the sequential one.
Each ratio's sides are timed in alternating rounds (``ddbspec.bench.rounds``); the ratios go
to the run's summary and to its saved JSON. Run with ``pytest -m benchmark -n 0``;
``--scale`` sets the table's size.
"""

from __future__ import annotations

import threading

import boto3
import pytest

from ddbspec.bench import describe, rounds
from ddbspec.workshop import loaders, scans, tables, tlog_scan, write_ceiling
from ddbspec.workshop.datasets import (
    FileOrder,
    log_item,
    log_table_items,
    read_log_rows,
    request_id,
)

pytestmark = pytest.mark.benchmark
ROUNDS = 7
TARGET = 0.9  # issue: the loader reaches 90% of the engine's ceiling


@pytest.fixture(scope="module")
def files(data_dir):
    return [data_dir / name for name in tlog_scan.MEDIUM_FILES]


@pytest.fixture(scope="module")
def table(target):
    with target.table(tables.TLOG_SCAN, "tlog_bench") as name:
        yield name


@pytest.fixture(scope="module")
def prebuilt(files, scale) -> list[list[dict]]:
    items = log_table_items(files, scale, FileOrder.NATURAL)
    return list(loaders.batches({"PutRequest": {"Item": i}} for i in items))


@pytest.fixture(scope="module")
def best_workers(target, table, prebuilt) -> int:
    return write_ceiling.best_workers(target.client(), table, prebuilt)


def workshop_loader(target, table: str, files, scale: int) -> None:
    """load_logfile_parallel.py's way: a thread per file, boto3's resource and batch_writer."""
    resource = boto3.resource(
        "dynamodb",
        endpoint_url=target.info.endpoint_url,
        region_name=target.info.region,
        aws_access_key_id="ddbspec",
        aws_secret_access_key="ddbspec",
    )

    def load_file(worker: int) -> None:
        with resource.Table(table).batch_writer() as writer:
            for row in read_log_rows(files[worker]):
                for copy in range(scale):
                    writer.put_item(Item=log_item(row, request_id(worker, copy, row.requestid)))

    threads = [threading.Thread(target=load_file, args=(w,)) for w in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_log_loader(benchmark, target, table, files, scale, prebuilt, best_workers, figures):
    client = target.client()
    items = sum(map(len, prebuilt))

    def raw() -> None:
        write_ceiling.raw_batch_write(client, table, prebuilt, best_workers)

    def workshop() -> None:
        workshop_loader(target, table, files, scale)

    def loader() -> None:
        rows = log_table_items(files, scale, FileOrder.NATURAL)
        assert loaders.load(client, table, rows, workers=best_workers, serialized=True) == items

    sides = {"raw": raw, "workshop": workshop, "loader": loader}
    measured = rounds.alternate(benchmark, sides, ROUNDS)
    describe.benchmark(benchmark, target, items=items, workers=best_workers, **measured.info())
    to_raw = measured.speed("loader", over="raw", target=TARGET)
    rounds.record(benchmark, figures, "log loader / raw BatchWriteItem", to_raw)
    to_workshop = measured.speed("loader", over="workshop", target=1.0)
    rounds.record(benchmark, figures, "log loader / the workshop's loader", to_workshop)


@pytest.fixture(scope="module")
def shared(target, data_dir, scale, pytestconfig):
    return tlog_scan.shared(target, data_dir, scale, FileOrder.NATURAL, pytestconfig)


def test_parallel_scan(benchmark, target, shared, figures):
    client = target.client()
    sides = {
        "sequential": lambda: scans.sequential_scan(client, shared.name),
        "parallel": lambda: scans.parallel_scan(client, shared.name),
    }
    measured = rounds.alternate(benchmark, sides, ROUNDS)
    describe.benchmark(
        benchmark,
        target,
        items=shared.model.items,
        segments=scans.WORKSHOP_SEGMENTS,
        **measured.info(),
    )
    # No target: a single-threaded engine (dynalite is one node process) cannot scan
    # segments at once, where DynamoDB serves each from its own partitions.
    speedup = measured.speed("parallel", over="sequential")
    rounds.record(
        benchmark, figures, f"parallel scan ({scans.WORKSHOP_SEGMENTS} segments) speed-up", speedup
    )
