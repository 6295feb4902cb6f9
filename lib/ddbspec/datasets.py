"""CSV rows -> items: the workshop's data, checked against its manifest before it is trusted.

Every expected figure is computed from these files, so an edited or truncated CSV would make
the specs agree with the wrong data. The manifest pins each file's row count and sha256.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ddbspec.errors import DataError

_CHUNK = 1 << 20
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"[0-9]+")


def _digest_and_lines(path: Path) -> tuple[str, int]:
    """Stream the file once: the big log tables must not be read into memory to be checked."""
    sha, lines = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            lines += chunk.count(b"\n")
    return sha.hexdigest(), lines


def verify_manifest(data_dir: Path) -> dict[str, int]:
    """Check every file the manifest lists; return {file name: rows}."""
    manifest = data_dir / "manifest.json"
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise DataError(
            f"{manifest} is missing: restore it from git (git checkout -- data/manifest.json) "
            "or point --data-dir at the project's data folder"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"{manifest} is not a valid manifest ({e!r}): restore it from git "
            "(git checkout -- data/manifest.json)"
        ) from None
    fix = "restore it from git (git checkout -- data/{0}) or point --data-dir at an unchanged copy"
    rows: dict[str, int] = {}
    for name, expected in files.items():
        path = data_dir / name
        if not path.is_file():
            raise DataError(f"{path} is missing: " + fix.format(name))
        sha, lines = _digest_and_lines(path)
        differences = []
        if lines != expected["rows"]:
            differences.append(f"{lines} rows where the manifest expects {expected['rows']}")
        if sha != expected["sha256"]:
            differences.append(f"sha256 {sha} where the manifest expects {expected['sha256']}")
        if differences:
            raise DataError(
                f"{path} has been altered ({'; '.join(differences)}): " + fix.format(name)
            )
        rows[name] = lines
    return rows


def read_rows(path: Path, min_cols: int, max_cols: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, row), refusing a row whose width would shift every field."""
    if min_cols == max_cols:
        want = f"{min_cols}"
    elif max_cols == min_cols + 1:
        want = f"{min_cols} or {max_cols}"
    else:
        want = f"{min_cols} to {max_cols}"
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        for row in reader:
            if not min_cols <= len(row) <= max_cols:
                raise DataError(
                    f"{path.name} line {reader.line_num}: expected {want} columns, found {len(row)}"
                )
            yield reader.line_num, row


@dataclass(frozen=True)
class Employee:
    """One row of employees.csv; an 11th column "1" marks a manager."""

    employeeid: int
    name: str
    title: str
    dept: str
    city: str
    state: str
    dob: str
    hire_date: str
    previous_title: str
    previous_title_end: str
    is_manager: bool = False


def _iso_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _employee(row: list[str]) -> Employee:
    """One validated row; a ValueError says which field is wrong and what was expected."""
    eid, name, title, dept, city, state, dob, hired, prev, prev_end = row[:10]

    def bad(field: str, value: str, want: str) -> ValueError:
        return ValueError(f"{field} is {value!r}, expected {want}")

    if not _WHOLE.fullmatch(eid):
        raise bad("employeeid", eid, "a whole number")
    texts = {"name": name, "title": title, "dept": dept, "city": city, "state": state,
             "previous_title": prev}  # fmt: skip
    for field, value in texts.items():
        # These become key attributes (colA, the overloaded index's name, state, city_dept),
        # and a key attribute cannot be an empty string.
        if not value.strip():
            raise bad(field, value, "a non-empty text")
    for field, value in (("dob", dob), ("hire_date", hired), ("previous_title_end", prev_end)):
        if not _iso_date(value):
            raise bad(field, value, "a date as YYYY-MM-DD")
    if len(row) == 11 and row[10] != "1":
        raise bad("the manager column", row[10], '"1" or no 11th column')
    return Employee(int(eid), name, title, dept, city, state, dob, hired, prev, prev_end,
                    is_manager=len(row) == 11)  # fmt: skip


def read_employees(path: Path) -> list[Employee]:
    """Parse and validate employees.csv; every bad field is reported with its file and line."""
    employees = []
    for line, row in read_rows(path, 10, 11):
        try:
            employees.append(_employee(row))
        except ValueError as e:
            raise DataError(f"{path.name} line {line}: {e}") from None
    return employees


def employee_items(e: Employee) -> list[dict[str, Any]]:
    """The workshop's four items per employee, as load_employees.py writes them.

    Only the master item carries state, city_dept and is_manager, so the composite index and
    the sparse manager index hold one item per employee; is_manager is the string "1" because
    the sparse index's key is of type S.
    """
    master: dict[str, Any] = {
        "employeeid": e.employeeid,
        "colA": "master",
        "name": e.name,
        "title": e.title,
        "dept": e.dept,
        "city": e.city,
        "state": e.state,
        "city_dept": f"{e.city}:{e.dept}",
        "dob": e.dob,
        "hire_date": e.hire_date,
        "previous_title": e.previous_title,
        "previous_title_end": e.previous_title_end,
        "lock": "0",
    }
    if e.is_manager:
        master["is_manager"] = "1"
    # The current title began when the previous one ended: the workshop stores that date as the
    # title item's hire_date, which is why one person shows two "hire dates" in exercise 4.
    return [
        master,
        {
            "employeeid": e.employeeid,
            "colA": f"current_title:{e.title}",
            "name": e.name,
            "hire_date": e.previous_title_end,
        },
        {
            "employeeid": e.employeeid,
            "colA": f"previous_title:{e.previous_title}",
            "name": e.name,
            "hire_date": e.hire_date,
        },
        {
            "employeeid": e.employeeid,
            "colA": f"state:{e.state}",
            "name": e.name,
            "hire_date": e.hire_date,
        },
    ]
