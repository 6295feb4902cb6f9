"""Exercise 6, composite keys.

A sort key built from several attributes (``city_dept`` = 'city:dept') lets one index,
``gsi_city_dept`` (state, city_dept), answer three questions with begins_with on the sort key:
employees of a state, of a city in it, and of a department in that city.
"""

from __future__ import annotations

import pytest

from ddbspec.workshop import queries, tables
from ddbspec.workshop.figures import EMPLOYEE_PRINTED

pytestmark = pytest.mark.needs("online_gsi")


@pytest.fixture(scope="module")
def ask(target, employees_table):
    ddb = target.client()
    tables.add_index(ddb, employees_table, tables.GSI_CITY_DEPT, target.waits)
    return lambda state, prefix=None: queries.employees_by_location(
        ddb, employees_table, state, prefix
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
