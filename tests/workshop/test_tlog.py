"""tlog: the exercise 8 tables as the workshop creates them, and its items from the CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbspec.errors import DataError
from ddbspec.workshop import datasets, tables

from suite import DATA

# load_tlog.py's columns, in the CSV's order
COLUMNS = (
    "requestid",
    "host",
    "date",
    "hourofday",
    "timezone",
    "method",
    "url",
    "responsecode",
    "bytessent",
    "useragent",
)


def test_the_tables_are_the_workshops_create_table():
    request = tables.create_table_request(tables.TLOG_REPLICA, "run-tlog_replica", tags={"a": "b"})
    assert request["KeySchema"] == [{"AttributeName": "requestid", "KeyType": "HASH"}]
    assert request["AttributeDefinitions"] == [
        {"AttributeName": "requestid", "AttributeType": "N"},
        {"AttributeName": "host", "AttributeType": "S"},
    ]
    (index,) = request["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "host-requestid-gsi"
    assert index["KeySchema"] == [
        {"AttributeName": "host", "KeyType": "HASH"},
        {"AttributeName": "requestid", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["bytessent"]}
    assert tables.create_table_request(tables.TLOG_STREAMED, "t")["GlobalSecondaryIndexes"] == [
        index
    ]
    on_demand = tables.create_table_request(tables.TLOG_STREAMED, "t", on_demand=True)
    assert on_demand["BillingMode"] == "PAY_PER_REQUEST"


def test_the_items_are_what_load_tlog_writes():
    items = datasets.tlog_items(DATA / "logfile_stream.csv")
    assert len(items) == 2000 and len({i["requestid"] for i in items}) == 2000
    first = items[0]
    assert set(first) == set(COLUMNS)
    assert (first["requestid"], first["hourofday"], first["responsecode"]) == (4001, 6, 200)
    assert first["host"] == "66.249.67.3" and isinstance(first["bytessent"], int)


def test_a_bad_row_is_named_with_its_line(tmp_path: Path):
    path = tmp_path / "logfile_bad.csv"
    path.write_text(
        "1,h,2009-07-21,06,GMT-0700,GET,/,200,5,agent\n2,h,2009-07-21,six,GMT,GET,/,200,5,a\n"
    )
    with pytest.raises(DataError, match=r"logfile_bad\.csv line 2: hourofday is 'six'"):
        datasets.tlog_items(path)
