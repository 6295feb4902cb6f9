"""datasets: the manifest guards the data, and every bad row is reported with file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ddbspec.errors import DataError
from ddbspec.workshop.datasets import (
    Employee,
    employee_items,
    read_employees,
    read_rows,
    verify_manifest,
)

from suite import DATA

ROW = "1,Onfroi Greeno,Systems Administrator,Operation,Portland,OR,1992-03-31,2014-10-24,"
ROW += "Application Support Analyst,2014-04-12"


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    for name in ("manifest.json", "employees.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["files"] = {"employees.csv": manifest["files"]["employees.csv"]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "employees.csv"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_the_project_data_matches_its_manifest() -> None:
    rows = verify_manifest(DATA)
    assert rows["employees.csv"] == 1000
    assert set(rows) == set(json.loads((DATA / "manifest.json").read_text())["files"])


def test_a_missing_manifest_says_how_to_restore_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"manifest\.json is missing.*git checkout"):
        verify_manifest(tmp_path)


def test_a_missing_file_is_named(data_copy: Path) -> None:
    (data_copy / "employees.csv").unlink()
    with pytest.raises(DataError, match=r"employees\.csv is missing.*--data-dir"):
        verify_manifest(data_copy)


def test_an_altered_file_is_named_with_both_digests(data_copy: Path) -> None:
    path = data_copy / "employees.csv"
    path.write_text(path.read_text().replace("Onfroi", "Onfroy", 1))
    expected = json.loads((data_copy / "manifest.json").read_text())["files"]["employees.csv"]
    with pytest.raises(DataError, match=r"altered \(sha256 [0-9a-f]{64} where") as info:
        verify_manifest(data_copy)
    assert expected["sha256"] in str(info.value) and "rows" not in str(info.value)
    assert "git checkout -- data/employees.csv" in str(info.value)


def test_a_truncated_file_reports_rows_found_and_expected(data_copy: Path) -> None:
    path = data_copy / "employees.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    expected = r"altered \(999 rows where the manifest expects 1000; sha256"
    with pytest.raises(DataError, match=expected):
        verify_manifest(data_copy)


def test_rows_come_with_their_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b", "c,d,e")
    assert list(read_rows(path, 2, 3)) == [(1, ["a", "b"]), (2, ["c", "d", "e"])]


def test_a_row_of_the_wrong_width_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, *[ROW] * 16, ROW.rsplit(",", 1)[0])
    with pytest.raises(
        DataError, match=r"^employees\.csv line 17: expected 10 or 11 columns, found 9$"
    ):
        list(read_rows(path, 10, 11))


def test_employees_parse_with_managers_marked() -> None:
    employees = read_employees(DATA / "employees.csv")
    assert len(employees) == 1000
    assert employees[0] == Employee(
        1,
        "Onfroi Greeno",
        "Systems Administrator",
        "Operation",
        "Portland",
        "OR",
        "1992-03-31",
        "2014-10-24",
        "Application Support Analyst",
        "2014-04-12",
        False,
    )
    assert employees[1].is_manager  # 2,Lusa Seeler,...,1


@pytest.mark.parametrize(
    ("field", "old", "new", "message"),
    [
        ("employeeid", "1,", "x1,", "employeeid is 'x1', expected a whole number"),
        ("dob", "1992-03-31", "31/03/1992", "dob is '31/03/1992', expected a date as YYYY-MM-DD"),
        ("hire_date", "2014-10-24", "2014-02-30", "hire_date is '2014-02-30', expected a date"),
        ("name", "Onfroi Greeno", " ", "name is ' ', expected a non-empty text"),
        ("manager", "2014-04-12", "2014-04-12,yes", "the manager column is 'yes'"),
    ],
)
def test_a_bad_field_names_file_line_and_field(
    tmp_path: Path, field: str, old: str, new: str, message: str
) -> None:
    path = write(tmp_path, ROW, ROW, ROW.replace(old, new, 1))
    with pytest.raises(DataError, match="^employees.csv line 3: " + message.replace("(", r"\(")):
        read_employees(path)


def test_each_employee_becomes_the_workshops_four_items() -> None:
    e = read_employees(DATA / "employees.csv")[250]
    assert e.employeeid == 251
    master, current, previous, location = employee_items(e)
    assert master == {
        "employeeid": 251,
        "colA": "master",
        "name": "Wendi Bricknell",
        "title": "Network Architect",
        "dept": "Operation",
        "city": "San Jose",
        "state": "CA",
        "city_dept": "San Jose:Operation",
        "dob": "1992-05-06",
        "hire_date": "2014-03-05",
        "previous_title": "Senior Network System Administrator",
        "previous_title_end": "2013-12-31",
        "lock": "0",
    }
    assert current == {
        "employeeid": 251,
        "colA": "current_title:Network Architect",
        "name": "Wendi Bricknell",
        "hire_date": "2013-12-31",
    }
    assert previous == {
        "employeeid": 251,
        "colA": "previous_title:Senior Network System Administrator",
        "name": "Wendi Bricknell",
        "hire_date": "2014-03-05",
    }
    assert location == {
        "employeeid": 251,
        "colA": "state:CA",
        "name": "Wendi Bricknell",
        "hire_date": "2014-03-05",
    }


def test_only_a_managers_master_item_carries_the_sparse_key() -> None:
    employees = read_employees(DATA / "employees.csv")
    items = [i for e in employees for i in employee_items(e)]
    keyed = [i for i in items if "is_manager" in i]
    assert len(keyed) == sum(e.is_manager for e in employees) == 84
    assert all(i["colA"] == "master" and i["is_manager"] == "1" for i in keyed)
    # the composite index's keys too: one item per employee
    assert sum("state" in i and "city_dept" in i for i in items) == len(employees)
