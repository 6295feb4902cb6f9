"""A live AWS account: who the run is, what it may cost, what a refusal means, and the sweep
of what killed runs left behind. Everything the suite creates there carries its tags."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ddbspec.capacity import ScaledClock, real_clock
from ddbspec.errors import EngineError
from ddbspec.tables import TLOG_GSI_LOW, TLOG_RAISED, TLOG_SCAN, Waits, delete_table

PROJECT_TAG = ("project", "ddbspec")
RUN_TAG = "ddbspec-run"
# us-east-1 list prices (2024-11 on): on-demand per million request units, provisioned per hour.
PRICE_PER_MILLION_WRITES = 0.625
PRICE_PER_MILLION_READS = 0.125
PRICE_WCU_HOUR = 0.00065
PRICE_RCU_HOUR = 0.00013
# The service's time when it is not the real one: ddbspec.mockaws sets the clock on which its
# mock meters capacity and stamps CloudWatch's datapoints (movable and faster, like a gateway's).
SERVICE_CLOCK: ScaledClock | None = None


def service_clock() -> ScaledClock:
    """The clock the service's capacity and metrics run on: real time (which ``skip`` waits
    out) on AWS, the mock's own under ddbspec.mockaws."""
    return SERVICE_CLOCK or real_clock()


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


Clients = Callable[[str], Any]
GONE = ("ResourceNotFoundException", "NoSuchEntity")
# Deleted in this order: a mapping before its function, a role's inline policies before it.
KINDS = ("event source mapping", "function", "role", "log group", "table")
SWEEP_WAITS = Waits(poll=2.0, timeout=600.0)  # the service deletes a table in seconds


@dataclass(frozen=True)
class Resource:
    """One thing a run created in the account, found again by its name and tags."""

    kind: str  # one of KINDS
    name: str
    run: str  # the ddbspec-run tag ("" for a mapping: it is found through its function)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" (run {self.run})" if self.run else "")


def ours(tags: dict[str, str], run: str | None = None) -> bool:
    """Whether tags mark a resource of the suite (of run ``run``, if given)."""
    return (
        tags.get(PROJECT_TAG[0]) == PROJECT_TAG[1]
        and RUN_TAG in tags
        and run in (None, tags[RUN_TAG])
    )


def _pairs(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _tables(clients: Clients, prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    ddb = clients("dynamodb")
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if name.startswith(prefix):
                with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
                    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
                    yield name, _pairs(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])


def _functions(clients: Clients, prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    lam = clients("lambda")
    for page in lam.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(prefix):
                tags = lam.list_tags(Resource=function["FunctionArn"]).get("Tags", {})
                yield function["FunctionName"], tags


def _roles(clients: Clients, prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    iam = clients("iam")
    for page in iam.get_paginator("list_roles").paginate(PathPrefix="/service-role/"):
        for role in page["Roles"]:
            if role["RoleName"].startswith(prefix):
                yield (
                    role["RoleName"],
                    _pairs(iam.list_role_tags(RoleName=role["RoleName"])["Tags"]),
                )


def _log_groups(clients: Clients, prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    logs = clients("logs")
    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=f"/aws/lambda/{prefix}"
    )
    for page in pages:
        for group in page["logGroups"]:
            name = group["logGroupName"]
            yield name, logs.list_tags_log_group(logGroupName=name).get("tags", {})


def leftovers(clients: Clients, prefix: str, run: str | None = None) -> list[Resource]:
    """What the suite created and is still there: named ``prefix*`` and tagged as the
    suite's (by run ``run``, if given), with the mappings of those functions."""
    found = []
    for kind, listed in (
        ("function", _functions),
        ("role", _roles),
        ("log group", _log_groups),
        ("table", _tables),
    ):
        found += [Resource(kind, n, tags[RUN_TAG]) for n, tags in listed(clients, prefix)
                  if ours(tags, run)]  # fmt: skip
    lam = clients("lambda")
    for function in [r.name for r in found if r.kind == "function"]:
        for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function):
            found += [
                Resource("event source mapping", m["UUID"], "") for m in page["EventSourceMappings"]
            ]
    return sorted(found, key=lambda r: (KINDS.index(r.kind), r.name))


def _delete(clients: Clients, resource: Resource) -> None:
    name = resource.name
    if resource.kind == "event source mapping":
        clients("lambda").delete_event_source_mapping(UUID=name)
    elif resource.kind == "function":
        clients("lambda").delete_function(FunctionName=name)
    elif resource.kind == "role":
        iam = clients("iam")
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
    elif resource.kind == "log group":
        clients("logs").delete_log_group(logGroupName=name)
    else:  # a table still being created is waited for, then deleted, then gone
        delete_table(clients("dynamodb"), name, SWEEP_WAITS)


def sweep(clients: Clients, found: list[Resource]) -> tuple[list[Resource], list[str]]:
    """Delete ``found`` in dependency order; every one is tried. Returns what was deleted
    and, for what could not be, why (so nothing is silently left behind)."""
    deleted, failed = [], []
    for resource in sorted(found, key=lambda r: KINDS.index(r.kind)):
        try:
            _delete(clients, resource)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in GONE:
                failed.append(f"{resource}: {refused(error) or error}")
                continue
        except EngineError as error:  # a table that would not go in time
            failed.append(f"{resource}: {error}")
            continue
        deleted.append(resource)
    return deleted, failed


def employee_estimate(capacity: str, tables: int = 5, items: int = 4000, indexes: int = 3) -> str:
    """What the employee exercises cost: on-demand by the write, or the workshop's 100 WCU /
    100 RCU per table and index by the (started) hour."""
    if capacity == "workshop":
        cost = provisioned_cost(100 * tables * (1 + indexes), 100 * tables * (1 + indexes), 1)
        return f"about ${cost:.2f} (the workshop's 100 WCU/RCU per table and index, one hour)"
    writes = tables * items * 2  # each item into the table and gsi_overload
    return f"about ${on_demand_cost(writes, writes):.2f} (on-demand, ~{writes:,} writes)"


def capacity_estimate(capacity: str) -> str:
    """What exercise 1 costs: it runs only with the workshop's capacity, tlog and its index
    raised to 100 WCU/RCU and tlog_gsi_low at 1000 (its index 1), for minutes, billed by
    the started hour."""
    if capacity != "workshop":
        return "nothing (it runs only with --aws-capacity workshop)"
    raised = 2 * TLOG_RAISED
    low = TLOG_GSI_LOW.write + sum(i.write for i in TLOG_GSI_LOW.indexes)
    cost = provisioned_cost(raised + low, raised + low, 1)
    return f"about ${cost:.2f} ({raised + low:,} WCU and RCU at most, one hour)"


LOG_ITEM_BYTES = 250  # a tlog_scan item with its shard keys, about
LOG_ROWS = 4000  # rows of the two medium log files, copied --scale times


def log_estimate(capacity: str, scale: int, tables: int = 2, scans: int = 3) -> str:
    """What the log tables of exercises 2-3 cost (two file orders, so two tables): on-demand,
    the writes into each table and its index and a few full scans; or the workshop's 5000 WCU
    tables, by the started hour, which is what makes them dear."""
    if capacity == "workshop":
        t = TLOG_SCAN
        wcu = tables * (t.write + sum(i.write for i in t.indexes))
        rcu = tables * (t.read + sum(i.read for i in t.indexes))
        cost = provisioned_cost(wcu, rcu, 1)
        return f"about ${cost:.2f} (the workshop's {wcu:,} WCU and {rcu:,} RCU, one hour)"
    items = tables * LOG_ROWS * scale
    writes = items * 2  # the table and its sharded index
    reads = scans * items * LOG_ITEM_BYTES // 4096 // 2 + 1  # eventually consistent scans
    return f"about ${on_demand_cost(writes, reads):.2f} (on-demand, ~{writes:,} writes)"
