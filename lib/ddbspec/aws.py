"""A live AWS account: who the run is, what it may cost, what a refusal means, and the sweep
of what killed runs left behind. Everything the suite creates there carries its tags."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from botocore.exceptions import ClientError

PROJECT_TAG = ("project", "ddbspec")
RUN_TAG = "ddbspec-run"
# us-east-1 list prices (2024-11 on): on-demand per million request units, provisioned per hour.
PRICE_PER_MILLION_WRITES = 0.625
PRICE_PER_MILLION_READS = 0.125
PRICE_WCU_HOUR = 0.00065
PRICE_RCU_HOUR = 0.00013


def account(info: Any) -> str:
    """The account id the credentials belong to (STS), for the header."""
    return info.client("sts").get_caller_identity()["Account"]


def on_demand_cost(writes: int, reads: int) -> float:
    return writes / 1e6 * PRICE_PER_MILLION_WRITES + reads / 1e6 * PRICE_PER_MILLION_READS


def provisioned_cost(wcu: int, rcu: int, hours: float) -> float:
    """Provisioned capacity is billed by the hour, a started hour in full."""
    from math import ceil

    return ceil(hours) * (wcu * PRICE_WCU_HOUR + rcu * PRICE_RCU_HOUR)


def refused(error: BaseException) -> str | None:
    """For an AccessDenied from AWS, a message naming the permission that is missing."""
    if not isinstance(error, ClientError):
        return None
    details = error.response.get("Error", {})
    if details.get("Code") not in ("AccessDenied", "AccessDeniedException"):
        return None
    said = details.get("Message", "")
    named = re.search(r"perform: ([\w-]+:\w+)", said)
    action = named.group(1) if named else f"the permission for {error.operation_name}"
    return (
        f"AWS refused {action}: the credentials in use lack it. Add it to their policy "
        f"(lib/ddbspec/aws/policy.json lists everything a run needs), or run as a principal "
        f"that has it. AWS said: {said}"
    )


def leftovers(ddb: Any, prefix: str) -> list[str]:
    """Tables named ``prefix*`` that carry the project's tag: what killed runs left."""
    found = []
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if not name.startswith(prefix):
                continue
            arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
            tags = {
                t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]
            }
            if tags.get(PROJECT_TAG[0]) == PROJECT_TAG[1] and RUN_TAG in tags:
                found.append(name)
    return found


def sweep(ddb: Any, names: list[str]) -> list[str]:
    deleted = []
    for name in names:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)
            deleted.append(name)
    return deleted


def employee_estimate(capacity: str, tables: int = 5, items: int = 4000, indexes: int = 3) -> str:
    """What the employee exercises cost: on-demand by the write, or the workshop's 100 WCU /
    100 RCU per table and index by the (started) hour."""
    if capacity == "workshop":
        cost = provisioned_cost(100 * tables * (1 + indexes), 100 * tables * (1 + indexes), 1)
        return f"about ${cost:.2f} (the workshop's 100 WCU/RCU per table and index, one hour)"
    writes = tables * items * 2  # each item into the table and gsi_overload
    return f"about ${on_demand_cost(writes, writes):.2f} (on-demand, ~{writes:,} writes)"
