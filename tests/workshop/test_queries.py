"""queries: the requests the workshop's scripts make, checked against a stub client."""

from __future__ import annotations

from typing import Any

import pytest

from ddbspec.workshop.queries import employees_by, managers_by_table_scan, paginate


class Pages:
    """Answers each call with the next page, and remembers what it was asked."""

    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages, self.asked = list(pages), []

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(dict(kwargs))
        return self.pages.pop(0)


class Stub:
    def __init__(self, *pages: dict[str, Any]) -> None:
        self.query = self.scan = Pages(*pages)


def page(*names: str, last: str | None = None, scanned: int = 0) -> dict[str, Any]:
    p: dict[str, Any] = {"Items": [{"name": {"S": n}, "employeeid": {"N": "1"}} for n in names]}
    p |= {"Count": len(names), "ScannedCount": scanned or len(names)}
    if last:
        p["LastEvaluatedKey"] = {"k": {"S": last}}
    return p


def test_paginate_follows_last_evaluated_key() -> None:
    stub = Stub(page("a", last="a"), page("b"))
    assert len(list(paginate(stub, "Scan", TableName="t"))) == 2
    assert stub.scan.asked == [
        {"TableName": "t"},
        {"TableName": "t", "ExclusiveStartKey": {"k": {"S": "a"}}},
    ]


def test_overloaded_attributes_query_colA_with_a_prefix() -> None:
    stub = Stub(page("Alice", last="x"), page("Bob"))
    found = employees_by(stub, "employees", "state", "WA")
    assert [e["name"] for e in found] == ["Alice", "Bob"]
    assert found[0]["employeeid"] == 1
    assert stub.query.asked[0] == {
        "TableName": "employees",
        "IndexName": "gsi_overload",
        "KeyConditionExpression": "colA = :a",
        "ExpressionAttributeValues": {":a": {"S": "state:WA"}},
    }


def test_a_name_is_looked_up_among_master_items() -> None:
    stub = Stub(page("Dale Marlin"))
    employees_by(stub, "employees", "name", "Dale Marlin")
    asked = stub.query.asked[0]
    assert asked["KeyConditionExpression"] == "colA = :a AND #n = :v"
    assert asked["ExpressionAttributeValues"] == {":a": {"S": "master"}, ":v": {"S": "Dale Marlin"}}


def test_an_unknown_attribute_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="state, current_title, previous_title, name"):
        employees_by(Stub(), "employees", "shoe_size", "9")


def test_a_filtered_scan_sums_found_and_scanned_over_pages() -> None:
    stub = Stub(page("a", last="x", scanned=100), page(last="y", scanned=100), page("b", scanned=7))
    result = managers_by_table_scan(stub, "employees", page_size=100)
    assert (result.count, result.scanned, len(result.items)) == (2, 207, 2)
    assert stub.scan.asked[0]["FilterExpression"] == "is_manager = :f"
    assert stub.scan.asked[0]["ExpressionAttributeValues"] == {":f": {"S": "1"}}
    assert stub.scan.asked[0]["Limit"] == 100
