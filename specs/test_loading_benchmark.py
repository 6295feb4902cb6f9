"""How fast the employees load, against the engine's own ceiling (a benchmark, not a spec).

The ceiling is a raw BatchWriteItem loop: the low-level client, requests serialized before
the clock starts, the best worker count found on the same engine in the same run. The
loader, timed from CSV rows to written items, should reach 90% of it: the engine, not the
loader, is the bottleneck. The two are timed in alternating rounds (``ddbspec.bench.rounds``):
the ratio is the median of the rounds', with their spread. Run with
``pytest -m benchmark -n 0``.
"""

from __future__ import annotations

import pytest

from ddbspec.bench import describe, rounds
from ddbspec.workshop import datasets, loaders, tables, write_ceiling

pytestmark = pytest.mark.benchmark
ROUNDS = 7
TARGET = 0.9  # issue: the loader reaches 90% of the engine's ceiling


@pytest.fixture(scope="module")
def table(target):
    with target.table(tables.EMPLOYEES) as name:
        yield name


@pytest.fixture(scope="module")
def prebuilt(employees):
    items = (item for e in employees for item in datasets.employee_items(e))
    return list(loaders.batches(loaders.put_requests(items)))


@pytest.fixture(scope="module")
def best_workers(target, table, prebuilt) -> int:
    return write_ceiling.best_workers(target.client(), table, prebuilt)


def test_employee_loader(
    benchmark, target, table, employees, prebuilt, best_workers, model, figures
):
    client = target.client()

    def raw() -> None:
        write_ceiling.raw_batch_write(client, table, prebuilt, best_workers)

    def loader() -> None:
        items = (item for e in employees for item in datasets.employee_items(e))
        assert loaders.load(client, table, items, workers=best_workers) == model.items

    measured = rounds.alternate(benchmark, {"raw": raw, "loader": loader}, ROUNDS)
    describe.benchmark(
        benchmark, target, items=model.items, workers=best_workers, **measured.info()
    )
    ratio = measured.speed("loader", over="raw", target=TARGET)
    rounds.record(benchmark, figures, "employee loader / raw BatchWriteItem", ratio)
