"""Exercise 8 on AWS: the replication function deployed as the workshop deploys it.

The workshop's steps 2-6, for this run only: a role that Lambda may assume, an inline policy
that lets it read this run's stream, write this run's replica and log to its own log group
(the workshop's policy allowed every table, stream and log group of the account), the
handler zipped and created as a function, and the event source mapping (batches of 100 from
TRIM_HORIZON). ``deployed()`` removes all of it on the way out, whether the body succeeded,
failed or was interrupted, and says what it could not remove.

Everything here is an ordinary boto3 call: against moto's in-process mock the same code
runs, and only the function's execution has to be stood in for (``ddbspec.aws.mock_lambda``).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import io
import json
import logging
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ddbspec import waiting
from ddbspec.errors import GONE, DdbSpecError, code_of
from ddbspec.progress import say
from ddbspec.workshop import replica
from ddbspec.workshop.loaders import count_items

log = logging.getLogger(__name__)

RUNTIME = "python3.12"
MODULE = "replica.py"  # the file's name inside the zip
HANDLER = "replica.handler"
FUNCTION_TIMEOUT = 60  # seconds, as the workshop's create-function
BATCH_SIZE = 100
STARTING_POSITION = "TRIM_HORIZON"
LOG_RETENTION_DAYS = 1
LOG_GROUP_QUIET = 3.0  # seconds the deleted log group must stay gone (see _delete_log_group):
# longer than a cold invocation of the function takes on a busy machine
FIRST_LOOK = 0.25  # seconds before the replica is first looked at again (then 2x each time)
QUIET_LOOKS = 4  # times the log group is looked for in that period, after the first
Clients = Callable[[str], Any]
Progress = Callable[[str], None]


class DeployError(DdbSpecError):
    """The function could not be deployed, or not removed; the message says what is left."""


# --- what is created: names and documents (pure) ----------------------------------------


def _fit(name: str, limit: int) -> str:
    """``name``, shortened with a digest of the whole if it is over the service's limit."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"


@dataclass(frozen=True)
class Names:
    """The run's own names for what it creates (IAM and Lambda allow 64 characters)."""

    role: str
    policy: str
    function: str

    @classmethod
    def of(cls, base: str) -> Names:
        return cls(
            role=_fit(f"{base}-replica-role", 64),
            policy=_fit(f"{base}-replica-policy", 128),
            function=_fit(f"{base}-replica", 64),
        )

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"


@dataclass(frozen=True)
class Arn:
    """The parts of a DynamoDB stream's ARN that name everything else in the same place."""

    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, arn: str) -> Arn:
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            raise ValueError(f"{arn!r} is not an ARN")
        return cls(parts[1], parts[3], parts[4])

    def table(self, name: str) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"

    def log_group(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{name}"


def trust_policy() -> dict[str, Any]:
    """The workshop's iam-trust-relationship.json: only Lambda may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def execution_policy(stream_arn: str, replica_arn: str, log_group_arn: str) -> dict[str, Any]:
    """What the function needs and nothing more, each on this run's own resource.

    ListStreams is the one exception: IAM cannot scope it to a resource (it lists stream
    ARNs and reads no data), so it has "*" in a statement of its own. The log group is
    created by the suite, so the function needs no logs:CreateLogGroup.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadThisRunsStream",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                "Resource": stream_arn,
            },
            {
                "Sid": "ListStreamsCannotBeScoped",
                "Effect": "Allow",
                "Action": "dynamodb:ListStreams",
                "Resource": "*",
            },
            {
                "Sid": "WriteThisRunsReplica",
                "Effect": "Allow",
                "Action": ["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                "Resource": replica_arn,
            },
            {
                "Sid": "LogToItsOwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            },
        ],
    }


def handler_zip(source: Path | None = None) -> bytes:
    """The function's code: ddbspec/replica.py alone, as ``replica.py``.

    Built the same way every time (fixed timestamp and permissions), so the same source
    gives the same CodeSha256 and a deployed function can be checked against it.
    """
    text = (source or Path(replica.__file__)).read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(MODULE, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text)
    return buffer.getvalue()


def code_sha256(code: bytes) -> str:
    """Lambda's CodeSha256: the base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def suite_permissions(prefix: str = "ddbspec") -> list[dict[str, Any]]:
    """What the credentials that run ``--aws`` need for exercise 8, beyond the tables'.

    Statements to add to lib/ddbspec/aws/policy.json, scoped to the suite's own names. Event
    source mappings have no name: creating and deleting one is scoped by the function it
    maps (lambda:FunctionArn), reading one cannot be.
    """
    function = f"arn:aws:lambda:*:*:function:{prefix}-*"
    return [
        {
            "Sid": "Exercise8Role",
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:TagRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:PassRole",
            ],
            "Resource": f"arn:aws:iam::*:role/service-role/{prefix}-*",
        },
        {
            "Sid": "Exercise8Function",
            "Effect": "Allow",
            "Action": [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:InvokeFunction",
                "lambda:TagResource",
            ],
            "Resource": function,
        },
        {
            "Sid": "Exercise8Mapping",
            "Effect": "Allow",
            "Action": ["lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping"],
            "Resource": "*",
            "Condition": {"ArnLike": {"lambda:FunctionArn": function}},
        },
        {
            "Sid": "Exercise8MappingTags",
            "Effect": "Allow",
            "Action": "lambda:TagResource",
            "Resource": "arn:aws:lambda:*:*:event-source-mapping:*",
            "Condition": {"StringEquals": {"aws:RequestTag/project": "ddbspec"}},
        },
        {
            "Sid": "Exercise8MappingRead",
            "Effect": "Allow",
            "Action": ["lambda:GetEventSourceMapping", "lambda:ListEventSourceMappings"],
            "Resource": "*",
        },
        {
            "Sid": "Exercise8Logs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:FilterLogEvents",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:TagLogGroup",
            ],
            "Resource": f"arn:aws:logs:*:*:log-group:/aws/lambda/{prefix}-*",
        },
        {
            "Sid": "Exercise8LogsList",
            "Effect": "Allow",
            "Action": "logs:DescribeLogGroups",
            "Resource": "*",
        },
    ]


# --- deploying, waiting, removing ---------------------------------------------------------


@dataclass
class Deployment:
    """What ``deployed()`` created, in order; the cleanup removes it in reverse."""

    names: Names
    stream_arn: str
    replica_table: str
    code: bytes
    policy: dict[str, Any]
    role_arn: str | None = None
    function_arn: str | None = None
    mapping_uuid: str | None = None
    created: list[str] = field(default_factory=list)  # "log group", "role", ...
    # set by whoever writes to the source table once the mapping exists: from then on an
    # invocation may be running, and may make the log group again after it is deleted
    invoked: bool = False


@contextlib.contextmanager
def deployed(
    clients: Clients,
    *,
    names: Names,
    stream_arn: str,
    replica_table: str,
    tags: dict[str, str] | None = None,
    timeout: float = 300.0,
    poll: float = 2.0,
    progress: Progress = say,
    quiet: float = LOG_GROUP_QUIET,
) -> Iterator[Deployment]:
    """Deploy the replication function on ``stream_arn``; remove everything afterwards."""
    where = Arn.of(stream_arn)
    code = handler_zip()
    policy = execution_policy(
        stream_arn, where.table(replica_table), where.log_group(names.log_group)
    )
    d = Deployment(names, stream_arn, replica_table, code, policy)
    tags = dict(tags or {})
    try:
        _create(clients, d, tags, timeout, poll, progress)
        yield d
    except BaseException as error:  # failed, or interrupted: remove, then let it go on
        try:
            remove(clients, d, timeout, poll, progress, quiet)
        except (DeployError, KeyboardInterrupt) as cleanup:
            note = f"and the cleanup after it: {cleanup}"
            if sys.version_info >= (3, 11):
                error.add_note(note)
            else:  # no notes on exceptions before 3.11: the log keeps it
                log.error(note)
        raise
    remove(clients, d, timeout, poll, progress, quiet)


@dataclass
class _Work:
    """What every step works with: the clients, the deployment, and how long to wait."""

    iam: Any
    lam: Any
    logs: Any
    d: Deployment
    timeout: float
    poll: float
    progress: Progress
    tags: dict[str, str] = field(default_factory=dict)
    quiet: float = LOG_GROUP_QUIET

    @classmethod
    def of(
        cls,
        clients: Clients,
        d: Deployment,
        timeout: float,
        poll: float,
        progress: Progress,
        tags: dict[str, str] | None = None,
        quiet: float = LOG_GROUP_QUIET,
    ) -> _Work:
        iam, lam, logs = clients("iam"), clients("lambda"), clients("logs")
        return cls(iam, lam, logs, d, timeout, poll, progress, dict(tags or {}), quiet)

    def until(self, what: str, check: Callable[[], Any], poll: float | None = None) -> Any:
        """``check`` until it returns something true (every ``poll`` seconds, the
        deployment's unless given), saying so every 10 s; bounded."""
        try:
            return waiting.until(what, check, self.timeout, poll or self.poll, 10, self.progress)
        except waiting.TimedOut as late:
            raise DeployError(f"{what}: still not done after {late.waited:.0f} s") from None

    def retrying(
        self, what: str, call: Callable[[], Any], retry_if: Callable[[ClientError], bool]
    ) -> Any:
        """``call``, again while AWS says what IAM's propagation delay makes it say (a new
        role is not assumable, nor its policy in force, for some seconds after it is
        created); at the timeout, AWS's last refusal is raised."""
        refusals: list[ClientError] = []

        def attempt() -> tuple[Any] | waiting.Pending:
            try:
                return (call(),)
            except ClientError as error:
                if not retry_if(error):
                    raise
                refusals.append(error)
                return waiting.Pending(f"{error.response['Error'].get('Message')}; retrying")

        try:
            return waiting.until(what, attempt, self.timeout, self.poll, 0, self.progress)[0]
        except waiting.TimedOut:
            raise refusals[-1] from None


def _nothing(w: _Work) -> None:
    """A step with nothing to do once its resource exists."""


def _never(d: Deployment) -> bool:
    return False


@dataclass(frozen=True)
class Step:
    """One resource of the deployment: how it is made, deleted, and deleted by hand.

    ``deployed()`` walks ``STEPS`` in order and ``remove`` in reverse, so that what is
    created and what is removed cannot drift apart.
    """

    what: str  # its name in Deployment.created
    create: Callable[[_Work], None]  # makes it, and notes its ARN or id on the deployment
    delete: Callable[[_Work], None]
    by_hand: Callable[[Deployment], str]  # the command that deletes it
    settle: Callable[[_Work], None] = _nothing  # once noted as created: settings, waits
    made_elsewhere: Callable[[Deployment], bool] = _never  # may exist though not created here


def _create_log_group(w: _Work) -> None:
    w.progress(f"creating log group {w.d.names.log_group}")
    w.logs.create_log_group(
        logGroupName=w.d.names.log_group, **({"tags": w.tags} if w.tags else {})
    )


def _keep_logs_briefly(w: _Work) -> None:
    w.logs.put_retention_policy(
        logGroupName=w.d.names.log_group, retentionInDays=LOG_RETENTION_DAYS
    )


def _delete_log_group(w: _Work) -> None:
    """Delete the log group, and again whenever it comes back, until it has stayed gone for
    ``w.quiet`` seconds.

    An invocation that was running when the mapping went ends later, and its log lines may
    make the group anew: ministack writes them when the invocation ends and creates the group
    whatever the role may do (measured: exercise 8's teardown left the group behind). On AWS
    the role cannot create it, so the group stays gone and this costs one quiet wait. Nor
    is there anything to watch for while nothing was written to the stream (``invoked``):
    Lambda invokes the function only with records, and a run interrupted before its load
    deletes the group once.
    """
    name = w.d.names.log_group
    gone_since: float | None = None

    def gone_for_good() -> bool | waiting.Pending:
        nonlocal gone_since
        if _log_group_exists(w.logs, name):
            w.progress(f"log group {name} is back (an invocation ended after it went): deleting it")
            _delete_unless_gone(lambda: w.logs.delete_log_group(logGroupName=name))
            gone_since = None
            return waiting.Pending("made again by an invocation that ended late")
        now = time.monotonic()
        gone_since = now if gone_since is None else gone_since
        return now - gone_since >= w.quiet or waiting.Pending("gone; watching")

    w.logs.delete_log_group(logGroupName=name)
    if not w.d.invoked:
        return
    # looked at four times in the quiet period: at the deployment's 2 s poll, a 3 s quiet
    # period lasted 4 s, in every teardown of exercise 8 on the AWS path
    w.until(f"log group {name} gone for good", gone_for_good, min(w.poll, w.quiet / QUIET_LOOKS))


def _log_group_exists(logs: Any, name: str) -> bool:
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in groups)


def _delete_unless_gone(call: Callable[[], Any]) -> None:
    try:
        call()
    except ClientError as e:
        if code_of(e) not in GONE:
            raise


def _create_role(w: _Work) -> None:
    n = w.d.names
    w.progress(f"creating role {n.role} (trust: lambda.amazonaws.com)")
    role = w.iam.create_role(
        RoleName=n.role,
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(trust_policy()),
        Description="ddbspec exercise 8: the replication function's role, for one run",
        Tags=[{"Key": k, "Value": v} for k, v in w.tags.items()],
    )["Role"]
    w.d.role_arn = role["Arn"]


def _put_role_policy(w: _Work) -> None:
    n = w.d.names
    w.iam.put_role_policy(
        RoleName=n.role, PolicyName=n.policy, PolicyDocument=json.dumps(w.d.policy)
    )


def _role_not_assumable_yet(e: ClientError) -> bool:
    return code_of(e) == "InvalidParameterValueException" and "role" in str(e).lower()


def _create_function(w: _Work) -> None:
    d, n = w.d, w.d.names
    w.progress(f"creating function {n.function} ({RUNTIME}, {HANDLER})")
    function = w.retrying(
        "create-function",
        lambda: w.lam.create_function(
            FunctionName=n.function,
            Runtime=RUNTIME,
            Role=d.role_arn,
            Handler=HANDLER,
            Code={"ZipFile": d.code},
            Timeout=FUNCTION_TIMEOUT,
            Description="ddbspec exercise 8: applies tlog's stream to its replica",
            Environment={"Variables": {"REPLICA_TABLE": d.replica_table}},
            Tags=w.tags,
        ),
        _role_not_assumable_yet,
    )
    d.function_arn = function["FunctionArn"]


def _function_active(w: _Work) -> None:
    name = w.d.names.function
    w.until(f"function {name} active", lambda: _function_ready(w.lam, name))


def _function_ready(lam: Any, name: str) -> bool:
    config = lam.get_function_configuration(FunctionName=name)
    state = config.get("State", "Active")
    if state == "Failed":
        raise DeployError(f"function {name} failed to start: {config.get('StateReason')}")
    return state == "Active"


def _stream_not_readable_yet(e: ClientError) -> bool:
    return (
        code_of(e) == "InvalidParameterValueException" and "cannot access stream" in str(e).lower()
    )


def _create_mapping(w: _Work) -> None:
    d = w.d
    w.progress(f"mapping the stream to the function (batch {BATCH_SIZE}, {STARTING_POSITION})")
    mapping = w.retrying(
        "create-event-source-mapping",
        lambda: w.lam.create_event_source_mapping(
            EventSourceArn=d.stream_arn,
            FunctionName=d.names.function,
            Enabled=True,
            BatchSize=BATCH_SIZE,
            StartingPosition=STARTING_POSITION,
            BisectBatchOnFunctionError=True,
            **({"Tags": w.tags} if w.tags else {}),
        ),
        _stream_not_readable_yet,
    )
    d.mapping_uuid = mapping["UUID"]


def _mapping_enabled(w: _Work) -> None:
    w.until(
        "event source mapping enabled",
        lambda: w.lam.get_event_source_mapping(UUID=w.d.mapping_uuid)["State"] == "Enabled",
    )


def _mapping_uuids(w: _Work) -> list[str]:
    """The mapping's UUID; if its creation never answered (an interrupt between Lambda making
    it and the answer's arrival), the function's mappings, as Lambda lists them."""
    if w.d.mapping_uuid:
        return [w.d.mapping_uuid]
    pages = w.lam.get_paginator("list_event_source_mappings").paginate(
        FunctionName=w.d.names.function
    )
    return [m["UUID"] for page in pages for m in page["EventSourceMappings"]]


def _delete_mapping(w: _Work) -> None:
    """Delete the mapping and wait until it is gone: no invocation may still run (and log)
    once the function and the log group go."""
    for uuid in _mapping_uuids(w):
        _delete_one_mapping(w, uuid)


def _delete_one_mapping(w: _Work, uuid: str) -> None:
    def deleted() -> bool:
        try:
            w.lam.delete_event_source_mapping(UUID=uuid)
        except ClientError as e:
            if code_of(e) == "ResourceInUseException":  # still Creating or Updating
                return False
            if code_of(e) not in GONE:
                raise
        return True

    def absent() -> bool:
        try:
            w.lam.get_event_source_mapping(UUID=uuid)
        except ClientError as e:
            if code_of(e) in GONE:
                return True
            raise
        return False

    w.until("event source mapping deleted", deleted)
    w.until("event source mapping gone", absent)


def _delete_mapping_by_hand(d: Deployment) -> str:
    if d.mapping_uuid:
        return f"aws lambda delete-event-source-mapping --uuid {d.mapping_uuid}"
    return (
        f"aws lambda list-event-source-mappings --function-name {d.names.function}, then "
        "aws lambda delete-event-source-mapping --uuid UUID"
    )


STEPS: tuple[Step, ...] = (
    Step(
        "log group",
        _create_log_group,
        _delete_log_group,
        lambda d: f"aws logs delete-log-group --log-group-name {d.names.log_group}",
        settle=_keep_logs_briefly,
        made_elsewhere=lambda d: bool(d.function_arn),  # a function that ran may have made it
    ),
    Step(
        "role",
        _create_role,
        lambda w: w.iam.delete_role(RoleName=w.d.names.role),
        lambda d: f"aws iam delete-role --role-name {d.names.role}",
    ),
    Step(
        "role policy",
        _put_role_policy,
        lambda w: w.iam.delete_role_policy(RoleName=w.d.names.role, PolicyName=w.d.names.policy),
        lambda d: (
            f"aws iam delete-role-policy --role-name {d.names.role} --policy-name {d.names.policy}"
        ),
    ),
    Step(
        "function",
        _create_function,
        lambda w: w.lam.delete_function(FunctionName=w.d.names.function),
        lambda d: f"aws lambda delete-function --function-name {d.names.function}",
        settle=_function_active,
    ),
    Step(
        "event source mapping",
        _create_mapping,
        _delete_mapping,
        _delete_mapping_by_hand,
        settle=_mapping_enabled,
        made_elsewhere=lambda d: "function" in d.created,  # made, but its answer never came
    ),
)


def _create(
    clients: Clients,
    d: Deployment,
    tags: dict[str, str],
    timeout: float,
    poll: float,
    progress: Progress,
) -> None:
    """Create every step's resource in order, noting each in ``d.created`` once it exists."""
    w = _Work.of(clients, d, timeout, poll, progress, tags)
    for step in STEPS:
        step.create(w)
        d.created.append(step.what)
        step.settle(w)


def remove(
    clients: Clients,
    d: Deployment,
    timeout: float = 300.0,
    poll: float = 2.0,
    progress: Progress = say,
    quiet: float = LOG_GROUP_QUIET,
) -> None:
    """Delete what ``d`` created, newest first; every step is tried even if one fails or
    Ctrl-C arrives, and what could not be deleted is reported with how to delete it."""
    w = _Work.of(clients, d, timeout, poll, progress, quiet=quiet)
    failed: list[str] = []
    interrupted: BaseException | None = None
    for step in reversed(STEPS):
        if step.what not in d.created and not step.made_elsewhere(d):
            continue
        progress(f"deleting {step.what}")
        try:
            _delete(step, w)
        except KeyboardInterrupt as e:  # finish the cleanup first, then stop
            interrupted = e
            failed.append(f"{step.what}: interrupted -- delete it with: {step.by_hand(d)}")
        except Exception as e:
            failed.append(f"{step.what}: {e} -- delete it with: {step.by_hand(d)}")
    if failed:
        log.error("exercise 8's AWS resources not removed: %s", failed)
    if interrupted is not None:
        raise interrupted
    if failed:
        raise DeployError("could not remove everything the run created:\n  " + "\n  ".join(failed))


def _delete(step: Step, w: _Work) -> None:
    """Delete one step's resource; one that is gone already counts as deleted."""
    try:
        step.delete(w)
    except ClientError as e:
        if code_of(e) not in GONE:
            raise
    if step.what in w.d.created:
        w.d.created.remove(step.what)


def leftovers(clients: Clients, d: Deployment) -> list[str]:
    """What of ``d`` still exists, asked of each service (empty once it is all removed)."""
    iam, lam, logs = clients("iam"), clients("lambda"), clients("logs")
    n = d.names
    found = []

    def exists(call: Callable[[], Any]) -> bool:
        try:
            call()
        except ClientError as e:
            if code_of(e) in GONE:
                return False
            raise
        return True

    if d.mapping_uuid and exists(lambda: lam.get_event_source_mapping(UUID=d.mapping_uuid)):
        found.append(f"event source mapping {d.mapping_uuid}")
    if exists(lambda: lam.get_function(FunctionName=n.function)):
        found.append(f"function {n.function}")
    if exists(lambda: iam.get_role(RoleName=n.role)):
        found.append(f"role {n.role}")
        if exists(lambda: iam.get_role_policy(RoleName=n.role, PolicyName=n.policy)):
            found.append(f"role policy {n.policy}")
    if _log_group_exists(logs, n.log_group):
        found.append(f"log group {n.log_group}")
    return found


STALLED = 45.0  # seconds a replica may stand still while the mapping's last batch FAILED:
# then the function fails every batch (AWS retries one that failed, and a replica that grows
# in between is waited on); with the wait's poll and a look at the error, within a minute
LOG_LINES = 5  # the function's last log lines a failure shows
LAMBDAS_OWN_LINES = ("START ", "END ", "REPORT ", "INIT_START ", "INIT_REPORT ")
# the event a function is invoked with to see its error: it writes nothing, and a function
# that cannot load (an import error, a missing setting) fails on any event
PROBE: dict[str, list[Any]] = {"Records": []}


@dataclass
class _Seen:
    """How far the replica got, and since when it has stood still."""

    held: int
    since: float  # when the count last changed (or the wait began)
    state: str = ""

    def saw(self, held: int, now: float) -> float:
        """Note ``held`` items at ``now``; return how long the count has stood still."""
        if held != self.held:
            self.held, self.since = held, now
        return now - self.since


def wait_for_items(
    clients: Clients,
    d: Deployment,
    expected: int,
    timeout: float = 600.0,
    poll: float = 5.0,
    progress: Progress = say,
    clock: waiting.Clock | None = None,
) -> int:
    """Wait until the replica holds ``expected`` items, saying how far it is while waiting.

    A function that fails every batch fails the wait after ``STALLED`` s, not at the
    timeout, with its own error. ``clock`` times the wait: real time unless a test gives one.
    """
    ddb, lam, clock = clients("dynamodb"), clients("lambda"), clock or waiting.RealClock()
    start = clock.now()
    seen = _Seen(0, start)

    def replicated() -> bool | waiting.Pending:
        held = count_items(ddb, d.replica_table)
        if held == expected:
            return True
        still = seen.saw(held, clock.now())
        mapping = lam.get_event_source_mapping(UUID=d.mapping_uuid) if d.mapping_uuid else {}
        result = mapping.get("LastProcessingResult")
        seen.state = f"mapping {mapping.get('State')}, last result {result}"
        if result == "FAILED" and still >= STALLED:
            raise DeployError(
                f"the replica {d.replica_table} holds {held} of {expected} items and has not "
                f"grown for {still:.0f} s, and the mapping's last batch FAILED: the function "
                f"{d.names.function} fails its batches. {_function_error(clients, d)}"
            )
        return waiting.Pending(f"{held} of {expected} items ({seen.state})")

    try:
        waiting.until(
            f"replica {d.replica_table}",
            replicated,
            timeout,
            poll,
            0,
            progress,
            clock=clock,
            first=FIRST_LOOK,  # an emulator's stand-in replicates in a second, AWS in minutes
        )
    except waiting.TimedOut as late:
        raise DeployError(
            f"the replica {d.replica_table} holds {seen.held} of {expected} items after "
            f"{late.waited:.0f} s ({seen.state}); the function's log group "
            f"{d.names.log_group} says why"
        ) from None
    progress(f"replica {d.replica_table}: {expected} items after {clock.now() - start:.0f} s")
    return expected


def _function_error(clients: Clients, d: Deployment) -> str:
    """The function's error in its own words: its log's last lines, or else one invocation's."""
    group = d.names.log_group
    try:
        lines = _last_log_lines(clients("logs"), group)
    except ClientError as e:  # not readable: the invocation may still say
        lines, unread = [], f"could not be read ({e})"
    else:
        unread = "has nothing from the function"
    if lines:
        return f"Its log group {group} ends:\n  " + "\n  ".join(lines).replace("\n", "\n  ")
    return f"Its log group {group} {unread}; {_probe(clients('lambda'), d.names.function)}"


def _last_log_lines(logs: Any, group: str) -> list[str]:
    """The last ``LOG_LINES`` the function logged, without Lambda's START/END/REPORT lines.

    The log group is this run's own, so all of it is read (a failing run's is short).
    """
    kept: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
        messages = (event["message"].strip() for event in page["events"])
        kept.extend(m for m in messages if m and not m.startswith(LAMBDAS_OWN_LINES))
    return list(kept)


def _probe(lam: Any, function: str) -> str:
    """Invoke the function once with ``PROBE`` (nothing to write) and say how it answered."""
    try:
        answer = lam.invoke(FunctionName=function, Payload=json.dumps(PROBE).encode())
    except ClientError as e:
        return f"invoking it failed: {e}"
    payload, event = answer["Payload"].read().decode(errors="replace"), json.dumps(PROBE)
    if "FunctionError" not in answer:
        return (
            f"invoked with {event} it succeeded, so it loads and runs: the failure is in the "
            "batches themselves, which it does not log"
        )
    return f"invoked with {event} it failed: {answer['FunctionError']}: {_error_of(payload)}"


def _error_of(payload: str) -> str:
    """A failed invocation's payload as ``errorType: errorMessage``, else the payload itself."""
    try:
        error = json.loads(payload)
        return f"{error['errorType']}: {error['errorMessage']}"
    except (ValueError, KeyError, TypeError):
        return payload[:500]
