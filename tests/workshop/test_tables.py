"""tables: the exact CreateTable/UpdateTable requests, and what a table is still waiting for."""

from __future__ import annotations

import pytest

from ddbspec import waiting
from ddbspec.errors import EngineError
from ddbspec.workshop import tables
from ddbspec.workshop.tables import (
    EMPLOYEES,
    GSI_CITY_DEPT,
    GSI_MANAGER,
    add_index_request,
    attribute_definitions,
    create_table_request,
    pending,
)


def test_the_employees_table_is_the_workshops_create_table() -> None:
    assert create_table_request(EMPLOYEES, "employees-1", tags={"suite": "ddbspec"}) == {
        "TableName": "employees-1",
        "KeySchema": [
            {"AttributeName": "employeeid", "KeyType": "HASH"},
            {"AttributeName": "colA", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "employeeid", "AttributeType": "N"},
            {"AttributeName": "colA", "AttributeType": "S"},
            {"AttributeName": "name", "AttributeType": "S"},
        ],
        "ProvisionedThroughput": {"ReadCapacityUnits": 100, "WriteCapacityUnits": 100},
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "gsi_overload",
                "KeySchema": [
                    {"AttributeName": "colA", "KeyType": "HASH"},
                    {"AttributeName": "name", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 100, "WriteCapacityUnits": 100},
            }
        ],
        "Tags": [{"Key": "suite", "Value": "ddbspec"}],
    }


def test_an_on_demand_table_declares_no_throughput_anywhere() -> None:
    request = create_table_request(EMPLOYEES, "e", on_demand=True)
    assert request["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in request
    assert all("ProvisionedThroughput" not in g for g in request["GlobalSecondaryIndexes"])
    assert "Tags" not in request


def test_add_index_is_the_workshops_update_table() -> None:
    assert add_index_request("employees", GSI_MANAGER, provisioned=True) == {
        "TableName": "employees",
        "AttributeDefinitions": [
            {"AttributeName": "is_manager", "AttributeType": "S"},
            {"AttributeName": "title", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexUpdates": [
            {
                "Create": {
                    "IndexName": "gsi_manager",
                    "KeySchema": [
                        {"AttributeName": "is_manager", "KeyType": "HASH"},
                        {"AttributeName": "title", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": {
                        "ReadCapacityUnits": 100,
                        "WriteCapacityUnits": 100,
                    },
                }
            }
        ],
    }
    on_demand = add_index_request("employees", GSI_CITY_DEPT, provisioned=False)
    assert "ProvisionedThroughput" not in on_demand["GlobalSecondaryIndexUpdates"][0]["Create"]


def test_one_attribute_with_two_types_is_refused() -> None:
    with pytest.raises(ValueError, match="colA is declared both S and N"):
        attribute_definitions(("colA", "S"), ("colA", "N"))


def table(status: str, *gsis: dict[str, object]) -> dict[str, object]:
    return {"TableName": "employees", "TableStatus": status, "GlobalSecondaryIndexes": list(gsis)}


def gsi(status: str, backfilling: bool = False) -> dict[str, object]:
    return {"IndexName": "gsi_manager", "IndexStatus": status, "Backfilling": backfilling}


@pytest.mark.parametrize(
    ("desc", "index", "expected"),
    [
        (None, None, "not found"),
        (table("CREATING"), None, "CREATING"),
        (table("ACTIVE"), None, None),
        (table("UPDATING"), "gsi_manager", "UPDATING, index gsi_manager not yet listed"),
        (table("UPDATING", gsi("CREATING")), "gsi_manager", "UPDATING, index gsi_manager CREATING"),
        (
            table("ACTIVE", gsi("CREATING", True)),
            "gsi_manager",
            "ACTIVE, index gsi_manager CREATING (backfilling)",
        ),
        (
            table("ACTIVE", gsi("ACTIVE", True)),
            "gsi_manager",
            "ACTIVE, index gsi_manager ACTIVE (backfilling)",
        ),
        (table("UPDATING", gsi("ACTIVE")), "gsi_manager", "UPDATING, index gsi_manager ACTIVE"),
        (table("ACTIVE", gsi("ACTIVE")), "gsi_manager", None),
    ],
)
def test_pending(desc: dict[str, object] | None, index: str | None, expected: str | None) -> None:
    assert pending(desc, index) == expected


def test_an_active_table_without_the_index_is_an_engine_that_ignored_it() -> None:
    with pytest.raises(EngineError, match="ACTIVE but has no index gsi_city_dept"):
        pending(table("ACTIVE", gsi("ACTIVE")), "gsi_city_dept")


class Creating:
    """DescribeTable of a table that needs ``polls`` more looks before it is ACTIVE."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    def describe_table(self, TableName: str) -> dict[str, object]:
        self.polls -= 1
        return {
            "Table": {"TableName": TableName, "TableStatus": "CREATING" if self.polls else "ACTIVE"}
        }


def test_a_long_wait_says_what_it_waits_for(monkeypatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(waiting, "say", said.append)
    waits = tables.Waits(poll=0, timeout=60, every=0)
    tables.wait_active(Creating(polls=3), "t", waits)
    assert len(said) == 2 and said[0].startswith("table t: CREATING, waited 0 s of at most 60 s")


def test_a_wait_that_times_out_says_what_was_still_pending() -> None:
    waits = tables.Waits(poll=0, timeout=0.01)
    with pytest.raises(EngineError, match="table t still CREATING after"):
        tables.wait_active(Creating(polls=10**9), "t", waits)


def test_a_kept_tables_fingerprint_changes_with_its_items_and_its_definition():
    items = [{"employeeid": 1, "colA": "master", "name": "Ann"}]
    same = tables.fingerprint(tables.EMPLOYEES, [dict(i) for i in items])
    assert tables.fingerprint(tables.EMPLOYEES, items) == same
    assert tables.fingerprint(tables.EMPLOYEES, [{**items[0], "name": "Bob"}]) != same
    assert tables.fingerprint(tables.EMPLOYEES, items + items) != same
    assert tables.fingerprint(tables.TLOG_SCAN, items) != same
