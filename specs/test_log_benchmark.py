"""Loading and scanning tlog_scan, measured (benchmarks, not specs).

The loader against the engine's ceiling (``workshop.write_ceiling``: a raw BatchWriteItem loop at
its best worker count) and against a loader written the way the workshop wrote it (boto3's
resource, batch_writer, one thread per file); the parallel scan against the sequential one.
The ratios go to the run's summary. Run with ``pytest -m benchmark -n 0``; ``--scale`` sets
the table's size.
"""

from __future__ import annotations

import threading

import boto3
import pytest

from ddbspec.workshop import loaders, scans, tables, tlog_scan, write_ceiling
from ddbspec.workshop.datasets import (
    FileOrder,
    log_item,
    log_table_items,
    read_log_rows,
    request_id,
)

pytestmark = pytest.mark.benchmark
ROUNDS = 3
TARGET = 0.9  # issue: the loader reaches 90% of the engine's ceiling
rates: dict[str, float] = {}
scan_seconds: dict[str, float] = {}


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


def rate(benchmark, items: int) -> float:
    return items / benchmark.stats.stats.median


def test_raw_ceiling(benchmark, target, table, prebuilt, best_workers):
    benchmark.extra_info["workers"] = best_workers
    benchmark.pedantic(
        write_ceiling.raw_batch_write,
        rounds=ROUNDS,
        args=(target.client(), table, prebuilt, best_workers),
    )
    rates["raw"] = rate(benchmark, sum(map(len, prebuilt)))


def test_workshop_style_loader(benchmark, target, table, files, scale, prebuilt):
    benchmark.pedantic(workshop_loader, args=(target, table, files, scale), rounds=ROUNDS)
    rates["workshop"] = rate(benchmark, sum(map(len, prebuilt)))


def test_log_loader(benchmark, target, table, files, scale, best_workers, figures):
    client = target.client()

    def load() -> int:
        items = log_table_items(files, scale, FileOrder.NATURAL)
        return loaders.load(client, table, items, workers=best_workers, serialized=True)

    written = benchmark.pedantic(load, rounds=ROUNDS)
    rates["loader"] = rate(benchmark, written)
    engine = target.info.name
    if "raw" in rates:
        figures.record(
            f"log loader / raw BatchWriteItem on {engine} ({rates['loader']:.0f} vs "
            f"{rates['raw']:.0f} items/s)",
            round(rates["loader"] / rates["raw"], 2),
            TARGET,
            at_least=True,
        )
    if "workshop" in rates:
        figures.record(
            f"log loader / the workshop's loader ({rates['workshop']:.0f} items/s)",
            round(rates["loader"] / rates["workshop"], 2),
            1.0,
            at_least=True,
        )


@pytest.fixture(scope="module")
def shared(target, data_dir, scale, pytestconfig):
    return tlog_scan.shared(target, data_dir, scale, FileOrder.NATURAL, pytestconfig)


def test_sequential_scan(benchmark, target, shared):
    benchmark.pedantic(scans.sequential_scan, args=(target.client(), shared.name), rounds=ROUNDS)
    scan_seconds["sequential"] = benchmark.stats.stats.median


def test_parallel_scan(benchmark, target, shared, figures):
    benchmark.pedantic(scans.parallel_scan, args=(target.client(), shared.name), rounds=ROUNDS)
    scan_seconds["parallel"] = benchmark.stats.stats.median
    if "sequential" in scan_seconds:
        speedup = scan_seconds["sequential"] / scan_seconds["parallel"]
        # No target: a single-threaded engine (dynalite is one node process) cannot scan
        # segments at once, where DynamoDB serves each from its own partitions.
        figures.record(
            f"parallel scan ({scans.WORKSHOP_SEGMENTS} segments) speed-up over "
            f"sequential on {target.info.name}",
            round(speedup, 2),
            None,
        )
