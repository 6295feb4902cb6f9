"""Exercise 5, sparse indexes.

An index holds only the items that carry its key. Only managers' records carry
``is_manager``, so ``gsi_manager`` (added to the live table with UpdateTable, as the workshop
does, and backfilled) holds the managers and nothing else: scanning it reads as many items as
it returns, where the same question asked of the table reads every item, and pays for every
item it reads: the index costs a fraction of the scan.
"""

from __future__ import annotations

import pytest

from ddbspec.capacity.model import item_size, query_units, read_units
from ddbspec.workshop import datasets, loaders, queries, tables
from ddbspec.workshop.figures import EMPLOYEE_PRINTED

pytestmark = pytest.mark.needs("online_gsi")


@pytest.fixture(scope="module")
def ddb(target):
    return target.client()


@pytest.fixture(scope="module")
def table(indexed_employees):
    """The employees, gsi_manager added to the live table (and gsi_city_dept, exercise 6's)."""
    return indexed_employees


SCAN, INDEX = "table scan", "sparse index"
PAGE = 100


@pytest.fixture(scope="module")
def by_table_scan(target, table, ledger) -> queries.ScanResult:
    """The managers found by scanning the table: 40 pages, asked once for the module."""
    metered = ledger.metered(target.client(), SCAN)
    return queries.managers_by_table_scan(metered, table, page_size=PAGE)


@pytest.fixture(scope="module")
def by_sparse_index(target, table, ledger) -> queries.ScanResult:
    metered = ledger.metered(target.client(), INDEX)
    return queries.managers_by_sparse_index(metered, table, page_size=PAGE)


@pytest.fixture(scope="module")
def items(employees) -> list[dict]:
    """The table's items as the CSV makes them, in DynamoDB's wire format."""
    return [queries.serialize(i) for e in employees for i in datasets.employee_items(e)]


def test_table_scan_reads_every_item_to_find_the_managers(by_table_scan, model, figures):
    result = by_table_scan
    printed = EMPLOYEE_PRINTED["managers by table scan"]
    figures.check("managers found by a table scan", result.count, model.managers, printed)
    figures.check("items scanned by the table scan", result.scanned, model.items)


def test_sparse_index_scan_reads_only_the_managers(by_sparse_index, model, figures):
    result = by_sparse_index
    printed = EMPLOYEE_PRINTED["managers by sparse index"]
    figures.check("managers found by the sparse index", result.count, model.managers, printed)
    figures.check("items scanned in the sparse index", result.scanned, model.managers)
    assert {int(i["employeeid"]) for i in result.items} == model.manager_ids


def test_both_ways_find_the_same_managers(by_table_scan, by_sparse_index):
    by_scan, by_index = by_table_scan.items, by_sparse_index.items
    assert sorted(i["employeeid"] for i in by_scan) == sorted(i["employeeid"] for i in by_index)


def test_index_holds_one_entry_per_manager(ddb, table, model):
    """The index is sparse: one entry per manager, against four items per employee."""
    assert loaders.count_items(ddb, table, index=tables.GSI_MANAGER.name) == model.managers
    assert loaders.count_items(ddb, table) == model.items


def test_the_sparse_index_costs_a_fraction_of_the_scan(
    by_table_scan, by_sparse_index, ledger, items, figures, costs
):
    """By DynamoDB's rules, a Scan pays for every item it reads, summed per page and rounded
    up to 4 KB (half a unit each, eventually consistent), filter or not. The index's 84
    entries fit one page: its units follow from the data alone. The table's pages depend on
    the engine's order, so its units lie between the bytes rounded once and a half unit more
    per page."""
    scan, index = ledger.spent[SCAN], ledger.spent[INDEX]
    schema = tables.schema(tables.EMPLOYEES, tables.GSI_MANAGER)
    entries = [schema.projected(schema.indexes[-1], i) for i in items]
    in_index = [item_size(e) for e in entries if e is not None]
    figures.check("bytes read by the table scan", scan.bytes, sum(map(item_size, items)))
    figures.check("read units, sparse index", index.rcu, query_units(in_index, consistent=False))
    least = read_units(scan.bytes, consistent=False)
    figures.check("read units, table scan", scan.rcu, least, at_least=True)
    assert scan.rcu <= least + 0.5 * -(-len(items) // PAGE)
    assert index.read == {tables.GSI_MANAGER.name: index.rcu}
    costs.record(INDEX, index, versus=SCAN)
    costs.record(SCAN, scan)
