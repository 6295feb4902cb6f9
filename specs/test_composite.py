"""Exercise 6, composite keys.

A sort key built from several attributes (``city_dept`` = 'city:dept') lets one index,
``gsi_city_dept`` (state, city_dept), answer three questions with begins_with on the sort key:
employees of a state, of a city in it, and of a department in that city. The index reads
only the state's entries; the same question asked of the table with a filter pays for every
item of the table.
"""

from __future__ import annotations

import pytest

from ddbspec.capacity.model import item_size, query_units, read_units
from ddbspec.workshop import datasets, queries, tables
from ddbspec.workshop.figures import EMPLOYEE_PRINTED

pytestmark = pytest.mark.needs("online_gsi")


@pytest.fixture(scope="module")
def ask(target, indexed_employees):
    """Ask gsi_city_dept, added to the live table (with exercise 5's gsi_manager)."""
    ddb = target.client()
    return lambda state, prefix=None: queries.employees_by_location(
        ddb, indexed_employees, state, prefix
    )


@pytest.mark.parametrize(
    ("state", "prefix", "printed"),
    [("TX", None, "TX"), ("TX", "Dallas", "TX Dallas"), ("TX", "Dallas:Op", "TX Dallas:Op")],
)
def test_workshop_queries(ask, model, figures, state, prefix, printed):
    found = ask(state, prefix)
    expected = model.by_location(state, prefix or "")
    figures.check(
        f"state {state}" + (f", city_dept begins with {prefix!r}" if prefix else ""),
        len(found),
        expected,
        EMPLOYEE_PRINTED[printed],
    )
    assert all(e["state"] == state and e["city_dept"].startswith(prefix or "") for e in found)


def test_every_state_city_and_department(ask, model, figures):
    """Beyond the workshop: every state, every city in it, every city:dept, from the CSV."""
    prefixes = model.location_prefixes()  # (state, prefix) pairs, '' for the whole state
    measured = {(s, p): len(ask(s, p or None)) for s, p in prefixes}
    expected = {(s, p): model.by_location(s, p) for s, p in prefixes}
    figures.check(
        "state/city/department queries matching the model",
        sum(measured[k] == expected[k] for k in expected),
        len(expected),
    )
    assert measured == expected


def test_a_city_prefix_is_not_a_city(ask, model):
    """begins_with is a prefix, not a word: 'San' finds San Antonio, San Diego, San Jose..."""
    found = ask("CA", "San")
    assert len(found) == model.by_location("CA", "San")
    assert len({e["city"] for e in found}) > 1


def test_the_composite_key_costs_a_fraction_of_a_filtered_scan(
    target, indexed_employees, ask, model, ledger, figures, costs
):
    """TX's 197 entries fit one page of the index: their units follow from the data. The
    filtered scan reads all 4000 items; its pages are the engine's (1 MB each on DynamoDB),
    so its units lie between the bytes rounded once and half a unit more per page."""
    by_index = queries.employees_by_location(
        ledger.metered(target.client(), "composite key"), indexed_employees, "TX"
    )
    by_scan = queries.employees_by_state_scan(
        ledger.metered(target.client(), "scan with a filter"), indexed_employees, "TX"
    )
    assert len(by_index) == len(by_scan) == model.by_location("TX", "")
    index, scan = ledger.spent["composite key"], ledger.spent["scan with a filter"]
    schema = tables.schema(tables.EMPLOYEES, tables.GSI_CITY_DEPT)
    items = [queries.serialize(i) for e in model.rows for i in datasets.employee_items(e)]
    entries = [schema.projected(schema.indexes[-1], i) for i in items]
    tx = [item_size(e) for e in entries if e is not None and e["state"] == {"S": "TX"}]
    figures.check("read units, composite key (TX)", index.rcu, query_units(tx, consistent=False))
    figures.check("bytes read by the filtered scan", scan.bytes, sum(map(item_size, items)))
    least = read_units(scan.bytes, consistent=False)
    figures.check("read units, scan with a filter (TX)", scan.rcu, least, at_least=True)
    assert scan.rcu <= least + 0.5 * scan.requests
    costs.record("composite key", index, versus="scan with a filter")
    costs.record("scan with a filter", scan)
