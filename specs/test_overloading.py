"""Exercise 4, GSI key overloading.

One attribute, ``colA``, means something different on each item type of an employee (the
record itself is 'master'; the others are 'current_title:<title>', 'previous_title:<title>',
'state:<state>'), so one index, ``gsi_overload`` (colA, name), serves every access pattern:
employees by state, by current title, by any title ever held, and by name.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable

import pytest

from ddbspec.capacity import costs as costs_of
from ddbspec.capacity.model import item_size, query_units
from ddbspec.workshop import datasets, queries, scans, tables
from ddbspec.workshop.figures import EMPLOYEE_PRINTED
from ddbspec.workshop.tables import GSI_OVERLOAD


@pytest.fixture(scope="module")
def ask(target, shared_employees):
    ddb = target.client()
    return lambda attribute, value: queries.employees_by(ddb, shared_employees, attribute, value)


def test_employees_in_wa(ask, model, figures):
    found = ask("state", "WA")
    figures.check(
        "employees in state WA", len(found), model.by_state["WA"], EMPLOYEE_PRINTED["state WA"]
    )
    assert {e["name"] for e in found} == model.names_where(state="WA")


def test_current_title_software_engineer(ask, model, figures):
    found = ask("current_title", "Software Engineer")
    figures.check(
        "current title 'Software Engineer'",
        len(found),
        model.by_current_title["Software Engineer"],
        EMPLOYEE_PRINTED["current_title Software Engineer"],
    )


def test_name_dale_marlin(ask, model, figures):
    found = ask("name", "Dale Marlin")
    hired = [e["hire_date"] for e in found]
    figures.check(
        "name 'Dale Marlin' (hire dates)",
        hired,
        model.hire_dates("Dale Marlin"),
        EMPLOYEE_PRINTED["name Dale Marlin"],
    )


PATTERNS = {
    "state": "by_state",
    "current_title": "by_current_title",
    "previous_title": "by_previous_title",
}
OVERLOADED, SEPARATE = "gsi_overload, every value", "separate indexes, every value"
LOAD_OVERLOADED, LOAD_SEPARATE = "load with gsi_overload", "load with separate indexes"


@pytest.fixture(scope="module")
def every_value(target, shared_employees, model, ledger) -> dict[str, dict[str, list[dict]]]:
    """Every state and title in the data, each asked once through gsi_overload, metered."""
    ddb = ledger.metered(target.client(), OVERLOADED)
    return {
        attribute: {
            value: queries.employees_by(ddb, shared_employees, attribute, value)
            for value in getattr(model, counter)
        }
        for attribute, counter in PATTERNS.items()
    }


@pytest.mark.parametrize(("attribute", "counter"), list(PATTERNS.items()))
def test_every_value_is_one_query(every_value, model, figures, attribute, counter):
    """Beyond the workshop: every state and title in the data, each one index query."""
    expected = getattr(model, counter)
    measured = {value: len(found) for value, found in every_value[attribute].items()}
    figures.check(
        f"{attribute}: values whose count matches the model",
        sum(measured[v] == expected[v] for v in expected),
        len(expected),
    )
    assert measured == dict(expected)


def test_names_find_their_master_records(ask, model, figures):
    """Every shared name, and one employee in 25: a name query returns only master records."""
    shared = {name for name, count in model.by_name.items() if count > 1}
    names = shared | {e.name for e in model.rows if e.employeeid % 25 == 0}
    measured = {name: len(ask("name", name)) for name in sorted(names)}
    figures.check(
        f"records found for {len(names)} names",
        sum(measured.values()),
        sum(model.by_name[n] for n in names),
    )
    assert measured == {name: model.by_name[name] for name in names}


def test_unknown_attribute_is_refused(ask):
    with pytest.raises(ValueError, match="state"):
        ask("shoe_size", "9")


def test_the_index_holds_every_item_of_every_key(target, shared_employees, model, figures):
    """Beyond the workshop: every value of colA in the data (master, each state, each title),
    counted through gsi_overload, is what the table holds with it and what the data says: an
    index that lost entries would answer every pattern above short, without an error."""
    ddb = target.client()
    expected = model.by_overload_key()
    in_table = {
        value: n
        for (value,), n in scans.count_combinations(ddb, shared_employees, ["colA"]).items()
    }
    through_index = {
        value: queries.count_on_index(ddb, shared_employees, GSI_OVERLOAD, value)
        for value in expected
    }
    figures.check(
        "colA values whose index count is the table's",
        sum(through_index[v] == in_table.get(v) for v in expected),
        len(expected),
    )
    assert through_index == in_table == dict(expected)


def test_one_overloaded_index_against_the_separate_indexes_it_replaces(
    every_value, employees, ledger, figures, costs
):
    """What overloading costs. A query pays for the entries it reads, summed and rounded up
    to 4 KB. Through gsi_overload an entry is the small item written for that pattern
    ("state:WA": id, name, hire date); through an index of its own on the master record's
    attribute, it is the master record, projected whole: every value asked costs the
    overloaded index less. Writes go the other way: overloading writes three more items per
    employee so that each pattern has entries, and each lands in the index; the separate
    indexes (``tables.EMPLOYEES_SEPARATE``, priced from the data, never built) take one entry
    each per master record."""
    items = [queries.serialize(i) for e in employees for i in datasets.employee_items(e)]
    masters = [i for i in items if i["colA"]["S"] == "master"]
    asked = [(attribute, value) for attribute in every_value for value in every_value[attribute]]
    spend = ledger.spent[OVERLOADED]
    entries = sizes_by(items, lambda i: i["colA"]["S"])
    mine = [entries[f"{a}:{v}"] for a, v in asked]
    figures.check("queries through gsi_overload", spend.requests, len(asked))
    figures.check("entries they read", spend.items, sum(map(len, mine)))
    expected = sum(query_units(sizes, consistent=False) for sizes in mine)
    figures.check("read units, gsi_overload", spend.rcu, expected)
    apart_entries = {
        attribute: sizes_by(masters, functools.partial(field, index=index))
        for attribute, index in tables.SEPARATE_INDEXES.items()
    }
    separate = costs_of.combined(
        costs_of.query_spend(tables.SEPARATE_INDEXES[a].name, apart_entries[a][v]) for a, v in asked
    )
    assert separate.items == spend.items
    assert spend.rcu < separate.rcu, "an overloaded entry is smaller than the master record"
    costs.record(OVERLOADED, spend, versus=SEPARATE)
    costs.record(SEPARATE, separate)

    overloaded = costs_of.load_spend(tables.schema(tables.EMPLOYEES), items)
    apart = costs_of.load_spend(tables.schema(tables.EMPLOYEES_SEPARATE), masters)
    in_index = overloaded.write[GSI_OVERLOAD.name]
    figures.check("write units gsi_overload adds to the load", in_index, len(items))
    in_indexes = apart.wcu - apart.write[costs_of.TABLE]
    per_master = len(tables.SEPARATE_INDEXES)
    figures.check("write units the separate indexes add", in_indexes, len(masters) * per_master)
    costs.record(LOAD_OVERLOADED, overloaded, versus=LOAD_SEPARATE)
    costs.record(LOAD_SEPARATE, apart)


def sizes_by(items: list[dict], key: Callable[[dict], str | None]) -> dict[str, list[int]]:
    """The items' sizes, grouped by ``key`` (an index's partition key value)."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for item in items:
        if (value := key(item)) is not None:
            grouped[value].append(item_size(item))
    return grouped


def field(item: dict, index: tables.Index) -> str | None:
    """The value of an index's partition key on an item, if it has one."""
    value = item.get(index.hash_key[0])
    return None if value is None else value["S"]
