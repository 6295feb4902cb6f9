"""The one place that finds and deletes what runs left behind, on every engine.

Locally, tables named with the run's id (or the suite's prefix in dynalite's store, which is
the suite's own); in an account, everything named with the prefix and carrying the suite's
tags: tables, Lambda functions and their mappings, IAM roles, log groups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from ddbspec import targets
from ddbspec.aws.account import PROJECT_TAG, RUN_TAG, Clients, refused
from ddbspec.config import Settings
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import GONE, EngineError, code_of
from ddbspec.workshop.tables import Waits, delete_named, delete_table

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
        found += [
            Resource(kind, n, tags[RUN_TAG])
            for n, tags in listed(clients, prefix)
            if ours(tags, run)
        ]
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


def delete(clients: Clients, found: list[Resource]) -> tuple[list[Resource], list[str]]:
    """Delete ``found`` in dependency order; every one is tried. Returns what was deleted
    and, for what could not be, why (so nothing is silently left behind)."""
    deleted, failed = [], []
    for resource in sorted(found, key=lambda r: KINDS.index(r.kind)):
        try:
            _delete(clients, resource)
        except ClientError as error:
            if code_of(error) not in GONE:
                failed.append(f"{resource}: {refused(error) or error}")
                continue
        except EngineError as error:  # a table that would not go in time
            failed.append(f"{resource}: {error}")
            continue
        deleted.append(resource)
    return deleted, failed


@dataclass
class Swept:
    """What a run's end deleted on one engine, by why it was still standing: the run's
    shared tables (every run leaves them to its end), and what a spec interrupted before its
    teardown left; and what it could not delete, with why."""

    shared: list[str] = field(default_factory=list)  # table names
    interrupted: list[str] = field(default_factory=list)  # "table NAME", "function NAME", ...
    failed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.shared or self.interrupted or self.failed)


def sweep_run(settings: Settings) -> dict[str, Swept]:
    """Delete everything of this run still standing on any engine it used (a spec killed
    before its teardown, a shared table; on AWS also exercise 8's function, role and log
    group): the run id in their names, and on AWS in their tags, makes them this run's."""
    if settings.keep_tables:
        return {}
    swept = {}
    for path in sorted(settings.state_dir.glob("engine-*.json")):
        info = EngineInfo.from_json(path.read_text())
        if info.error or info.unavailable:
            continue
        with contextlib.suppress(Exception):  # an engine that died has nothing left to delete
            swept[info.name] = _sweep(info, settings)
    return {name: what for name, what in swept.items() if what}


def _sweep(info: EngineInfo, settings: Settings) -> Swept:
    prefix = f"{settings.table_prefix}-{settings.run_id}-"
    if info.name != "aws":
        names = delete_named(info.client(), prefix, info.waits)
        return _by_cause(settings, [("table", n) for n in names], [])
    deleted, failed = delete(info.client, leftovers(info.client, prefix, settings.run_id))
    return _by_cause(settings, [(r.kind, r.name) for r in deleted], failed)


def _by_cause(settings: Settings, deleted: list[tuple[str, str]], failed: list[str]) -> Swept:
    """Shared tables are told apart by their names (``targets.shared_prefix``)."""
    swept = Swept(failed=failed)
    for kind, name in deleted:
        if kind == "table" and targets.is_shared(settings, name):
            swept.shared.append(name)
        else:
            swept.interrupted.append(f"{kind} {name}")
    return swept
