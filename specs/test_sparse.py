"""Exercise 5, sparse indexes.

An index holds only the items that carry its key. Only managers' records carry
``is_manager``, so ``gsi_manager`` (added to the live table with UpdateTable, as the workshop
does, and backfilled) holds the managers and nothing else: scanning it reads as many items as
it returns, where the same question asked of the table reads every item.
"""

from __future__ import annotations

import pytest

from ddbspec.workshop import loaders, queries, tables
from ddbspec.workshop.figures import EMPLOYEE_PRINTED

pytestmark = pytest.mark.needs("online_gsi")


@pytest.fixture(scope="module")
def ddb(target):
    return target.client()


@pytest.fixture(scope="module")
def table(target, ddb, employees_table):
    tables.add_index(ddb, employees_table, tables.GSI_MANAGER, target.waits)
    return employees_table


@pytest.fixture(scope="module")
def by_table_scan(ddb, table) -> queries.ScanResult:
    """The managers found by scanning the table: 40 pages, asked once for the module."""
    return queries.managers_by_table_scan(ddb, table, page_size=100)


@pytest.fixture(scope="module")
def by_sparse_index(ddb, table) -> queries.ScanResult:
    return queries.managers_by_sparse_index(ddb, table, page_size=100)


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
