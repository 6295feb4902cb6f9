"""figures: the model computed from the CSV reproduces every figure the workshop printed."""

from __future__ import annotations

import pytest

from ddbspec.workshop.datasets import Employee, read_employees
from ddbspec.workshop.figures import EMPLOYEE_PRINTED, employee_figures, model_of_printed

from suite import DATA


@pytest.fixture(scope="module")
def model() -> dict[str, object]:
    return model_of_printed(employee_figures(read_employees(DATA / "employees.csv")))


@pytest.mark.parametrize("name", list(EMPLOYEE_PRINTED))
def test_the_model_reproduces_the_printed_figure(model: dict[str, object], name: str) -> None:
    printed = EMPLOYEE_PRINTED[name]
    assert model[name] == printed.value, f"{printed.command}: {printed}"


def employee(eid: int, state: str, city: str, dept: str, manager: bool = False) -> Employee:
    return Employee(
        eid,
        f"E{eid}",
        "Developer",
        dept,
        city,
        state,
        "1990-01-01",
        "2015-01-01",
        "Programmer",
        "2014-12-31",
        manager,
    )


def test_by_location_matches_state_and_a_prefix_of_city_dept() -> None:
    f = employee_figures(
        [
            employee(1, "TX", "Dallas", "Operation"),
            employee(2, "TX", "Dallas", "Development"),
            employee(3, "TX", "Austin", "Operation"),
            employee(4, "WA", "Dallas", "Operation"),  # another state's Dallas
        ]
    )
    assert f.by_location("TX") == 3
    assert f.by_location("TX", "Dallas") == 2
    assert f.by_location("TX", "Dallas:Op") == 1
    assert f.by_location("TX", "dallas") == 0  # begins_with is case-sensitive
    assert f.by_location("OR") == 0


def test_counts_follow_the_data() -> None:
    f = employee_figures(
        [
            employee(1, "TX", "Dallas", "Operation", manager=True),
            employee(2, "WA", "Seattle", "Support"),
        ]
    )
    assert (f.employees, f.items, f.managers, f.manager_ids) == (2, 8, 1, {1})
    assert f.by_state == {"TX": 1, "WA": 1}
    assert f.by_current_title == {"Developer": 2}
    assert f.by_previous_title == {"Programmer": 2}
    assert f.by_name == {"E1": 1, "E2": 1}
    assert f.hire_dates("E2") == ["2015-01-01"]
    assert f.hire_dates("nobody") == []
    assert f.names_where(state="WA") == {"E2"}
    assert f.names_where(title="Developer", city="Dallas") == {"E1"}
    assert f.employee(2).city == "Seattle"
    assert f.employee_ids() == [1, 2]
    with pytest.raises(LookupError, match="no employee 3"):
        f.employee(3)


def test_location_prefixes_are_every_state_city_and_city_dept() -> None:
    f = employee_figures(
        [employee(1, "TX", "Dallas", "Operation"), employee(2, "TX", "Dallas", "Support")]
    )
    assert f.location_prefixes() == [
        ("TX", ""),
        ("TX", "Dallas"),
        ("TX", "Dallas:Operation"),
        ("TX", "Dallas:Support"),
    ]
