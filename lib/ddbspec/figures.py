"""What the data says each employee exercise (4-6) must return, computed from employees.csv.

The specs compare what an engine returns with this model, never with a pasted number: if the
data changed, the expectations would change with it. WORKSHOP_PRINTED keeps the figures the
workshop printed, only to show them beside the run and to check that the model reproduces
them on the full data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ddbspec.datasets import Employee, employee_items


@dataclass(frozen=True)
class EmployeeFigures:
    rows: tuple[Employee, ...]
    employees: int
    items: int
    by_state: Counter[str]
    by_current_title: Counter[str]
    by_previous_title: Counter[str]
    by_name: Counter[str]
    managers: int

    @property
    def manager_ids(self) -> frozenset[int]:
        return frozenset(e.employeeid for e in self.rows if e.is_manager)

    def employee(self, employeeid: int) -> Employee:
        for e in self.rows:
            if e.employeeid == employeeid:
                return e
        raise LookupError(f"no employee {employeeid} in the data")

    def employee_ids(self) -> list[int]:
        """In file order, so a spec can pick distinct employees reproducibly."""
        return [e.employeeid for e in self.rows]

    def names_where(self, **fields: str) -> set[str]:
        """Names of the employees whose fields have these values, e.g. names_where(state="WA")."""
        return {e.name for e in self.rows if all(getattr(e, k) == v for k, v in fields.items())}

    def hire_dates(self, name: str) -> list[str]:
        """The master items' hire dates of everyone called `name` (what a name query returns)."""
        return sorted(e.hire_date for e in self.rows if e.name == name)

    def by_location(self, state: str, prefix: str = "") -> int:
        """Employees of `state` whose "city:dept" begins with `prefix` (exercise 6's query)."""
        return sum(
            1 for e in self.rows if e.state == state and f"{e.city}:{e.dept}".startswith(prefix)
        )

    def location_prefixes(self) -> list[tuple[str, str]]:
        """Every (state, prefix) exercise 6 can ask: "" for the state, each city, each city:dept."""
        pairs = {(e.state, p) for e in self.rows for p in ("", e.city, f"{e.city}:{e.dept}")}
        return sorted(pairs)


def employee_figures(employees: list[Employee]) -> EmployeeFigures:
    return EmployeeFigures(
        rows=tuple(employees),
        employees=len(employees),
        items=sum(len(employee_items(e)) for e in employees),
        by_state=Counter(e.state for e in employees),
        by_current_title=Counter(e.title for e in employees),
        by_previous_title=Counter(e.previous_title for e in employees),
        by_name=Counter(e.name for e in employees),
        managers=sum(e.is_manager for e in employees),
    )


@dataclass(frozen=True)
class Printed:
    """One figure the workshop printed: its value, the command, and the output it quoted."""

    exercise: int
    value: Any
    command: str
    output: str

    def __str__(self) -> str:
        return self.output


WORKSHOP_PRINTED: dict[str, Printed] = {
    "state WA": Printed(
        4, 46, "python query_employees.py employees state 'WA'", "Total of employees: 46."
    ),
    "current_title Software Engineer": Printed(
        4,
        18,
        "python query_employees.py employees current_title 'Software Engineer'",
        "Total of employees: 18.",
    ),
    "name Dale Marlin": Printed(
        4,
        (1, "2014-10-19"),
        "python query_employees.py employees name 'Dale Marlin'",
        "Employee name: Dale Marlin - hire date: 2014-10-19 / Total of employees: 1.",
    ),
    "managers by table scan": Printed(
        5,
        (84, 4000),
        "python query_managers_table.py employees 100",
        "Managers count: 84. # of records scanned: 4000.",
    ),
    "managers by sparse index": Printed(
        5,
        (84, 84),
        "python query_managers_gsi.py employees 100",
        "Number of managers: 84. # of records scanned: 84.",
    ),
    "TX": Printed(6, 197, "python query_city_dept.py employees TX", "Total of employees: 197."),
    "TX Dallas": Printed(
        6,
        47,
        "python query_city_dept.py employees TX --citydept Dallas",
        "Total of employees: 47.",
    ),
    "TX Dallas:Op": Printed(
        6,
        9,
        "python query_city_dept.py employees TX --citydept Dallas:Op",
        "Total of employees: 9.",
    ),
}


def model_of_printed(f: EmployeeFigures) -> dict[str, Any]:
    """The model's value for each WORKSHOP_PRINTED figure, under the same keys."""
    return {
        "state WA": f.by_state["WA"],
        "current_title Software Engineer": f.by_current_title["Software Engineer"],
        "name Dale Marlin": (f.by_name["Dale Marlin"], *f.hire_dates("Dale Marlin")),
        # A filtered scan reads every item: each employee is four items, one of them a master.
        "managers by table scan": (f.managers, f.items),
        # Only managers' master items carry is_manager, so the index holds nothing else.
        "managers by sparse index": (f.managers, f.managers),
        "TX": f.by_location("TX"),
        "TX Dallas": f.by_location("TX", "Dallas"),
        "TX Dallas:Op": f.by_location("TX", "Dallas:Op"),
    }
