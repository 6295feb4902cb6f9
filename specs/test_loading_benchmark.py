"""How fast the employees load, against the engine's own ceiling (a benchmark, not a spec).

The ceiling is a raw BatchWriteItem loop: the low-level client, requests serialized before
the clock starts, the best worker count found on the same engine in the same run. The
loader, timed from CSV rows to written items, should reach 90% of it: the engine, not the
loader, is the bottleneck. The two take turns part by part, in rounds
(``ddbspec.bench.rounds``): the ratio is the median of the rounds', with their spread. Run
with ``pytest -m benchmark -n 0``; ``--bench-rounds`` and ``--bench-parts`` make it smaller
(``ddbspec.bench.plan``).
"""

from __future__ import annotations

import pytest

from ddbspec.bench import describe, rounds
from ddbspec.workshop import datasets, loaders, tables, write_ceiling

pytestmark = pytest.mark.benchmark
TARGET = 0.9  # issue: the loader reaches 90% of the engine's ceiling


@pytest.fixture(scope="module")
def table(target):
    with target.table(tables.EMPLOYEES) as name:
        yield name


@pytest.fixture(scope="module")
def parts(employees, model, bench_plan) -> list:
    """The employees in parts of about PART_ITEMS items: the first --bench-parts of them."""
    return bench_plan.cut(rounds.split(employees, rounds.parts_of(model.items)))


@pytest.fixture(scope="module")
def prebuilt(parts) -> list[list[list[dict]]]:
    """Each part's items as BatchWriteItem batches, serialized before the clock starts."""
    items = ((i for e in part for i in datasets.employee_items(e)) for part in parts)
    return [list(loaders.batches(loaders.put_requests(part))) for part in items]


@pytest.fixture(scope="module")
def best_workers(target, table, prebuilt) -> int:
    return write_ceiling.best_workers(target.client(), table, prebuilt)


def test_employee_loader(
    benchmark, target, table, parts, prebuilt, best_workers, bench_plan, figures
):
    client = target.client()

    def raw(part: int) -> None:
        write_ceiling.raw_batch_write(client, table, prebuilt[part], best_workers)

    def loader(part: int) -> None:
        items = (item for e in parts[part] for item in datasets.employee_items(e))
        loaders.load(client, table, items, workers=best_workers)

    sides = {"raw": raw, "loader": loader}
    measured = rounds.alternate(benchmark, sides, bench_plan.rounds, parts=len(parts))
    items = sum(len(batch) for part in prebuilt for batch in part)
    describe.benchmark(benchmark, target, items=items, workers=best_workers, **measured.info())
    ratio = measured.speed("loader", over="raw", target=TARGET)
    rounds.record(benchmark, figures, "employee loader / raw BatchWriteItem", ratio)
