"""Exercise 4, GSI key overloading.

One attribute, ``colA``, means something different on each item type of an employee (the
record itself is 'master'; the others are 'current_title:<title>', 'previous_title:<title>',
'state:<state>'), so one index, ``gsi_overload`` (colA, name), serves every access pattern:
employees by state, by current title, by any title ever held, and by name.
"""

from __future__ import annotations

import pytest

from ddbspec.workshop import queries, scans
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


@pytest.mark.parametrize(
    ("attribute", "counter"),
    [
        ("state", "by_state"),
        ("current_title", "by_current_title"),
        ("previous_title", "by_previous_title"),
    ],
)
def test_every_value_is_one_query(ask, model, figures, attribute, counter):
    """Beyond the workshop: every state and title in the data, each one index query."""
    expected = getattr(model, counter)
    measured = {value: len(ask(attribute, value)) for value in expected}
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
