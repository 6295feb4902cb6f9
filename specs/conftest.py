"""Fixtures the specs share: the workshop's employee rows, their figures, the loaded table;
the log table of exercises 2-3."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ddbspec.capacity import costs
from ddbspec.config import Settings
from ddbspec.targets import Target
from ddbspec.workshop import datasets, figures, loaders, tables, tlog_scan
from ddbspec.workshop.datasets import FileOrder


@pytest.fixture(scope="session")
def scale(ddbspec_settings: Settings) -> int:
    """Copies of each medium log row in the log tables (--scale)."""
    return ddbspec_settings.scale


@pytest.fixture(scope="module")
def ledger() -> costs.Ledger:
    """The spec module's ways of doing one thing, each with what it cost by DynamoDB's rules:
    a client from ``ledger.metered(target.client(), "way")`` counts its requests."""
    return costs.Ledger()


@pytest.fixture(scope="session")
def employees(data_dir: Path) -> list[datasets.Employee]:
    return datasets.read_employees(data_dir / "employees.csv")


@pytest.fixture(scope="session")
def model(employees: list[datasets.Employee]) -> figures.EmployeeFigures:
    """What the CSV says each employee exercise must return."""
    return figures.employee_figures(employees)


@pytest.fixture(scope="session")
def build_employees(employees: list[datasets.Employee]):
    """Builds the workshop's employees table (with gsi_overload) on a target, loaded."""

    @contextlib.contextmanager
    def build(target: Target) -> Iterator[str]:
        with target.table(tables.EMPLOYEES) as name:
            items = (item for e in employees for item in datasets.employee_items(e))
            loaders.load_verified(target.client(), name, items)
            yield name

    return build


@pytest.fixture(scope="module")
def employees_table(target: Target, build_employees) -> Iterator[str]:
    """The spec module's own employees table: exercise 7 moves employees, so that no other
    exercise's figures depend on its moves."""
    with build_employees(target) as name:
        yield name


@pytest.fixture(scope="module")
def shared_employees(target: Target, employees: list[datasets.Employee]) -> str:
    """The employees table for a spec that only reads it (exercise 4): built once per run on
    each engine and, as the log tables, kept on dynalite's disk for the next run."""
    items = [item for e in employees for item in datasets.employee_items(e)]
    return target.shared_table(
        tables.EMPLOYEES,
        tables.fingerprint(tables.EMPLOYEES, items),
        lambda ddb, name: loaders.load_verified(ddb, name, items),
    )


@pytest.fixture(scope="module")
def indexed_employees(target: Target, employees: list[datasets.Employee]) -> str:
    """The employees table with gsi_manager and gsi_city_dept added to the live table and
    backfilled, as exercises 5 and 6 add them: built once per run on each engine and shared by
    both, which only read it. Each index holds only the items that carry its key, so neither
    changes what the other exercise reads."""
    items = [item for e in employees for item in datasets.employee_items(e)]
    online = (tables.GSI_MANAGER, tables.GSI_CITY_DEPT)
    indexed = dataclasses.replace(tables.EMPLOYEES, indexes=tables.EMPLOYEES.indexes + online)

    def build(ddb: Any, name: str) -> int:
        loaded = loaders.load_verified(ddb, name, items)
        for index in online:
            tables.add_index(ddb, name, index, target.waits)
        return loaded

    return target.shared_table(tables.EMPLOYEES, tables.fingerprint(indexed, items), build)


@pytest.fixture(scope="module")
def tlog_natural(
    target: Target, data_dir: Path, scale: int, capture_off: Callable[[], Any]
) -> tlog_scan.LogTable:
    """tlog_scan with the medium files in natural order: every requestid distinct."""
    return tlog_scan.shared(target, data_dir, scale, FileOrder.NATURAL, capture_off())
