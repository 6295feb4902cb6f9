"""Run the suite's ``--aws`` path against moto's in-process mock of the AWS endpoints.

``ddbspec mock-aws [FAULTS] [PYTEST ARGS]`` is ``pytest --aws`` with every boto3 call
answered in-process by moto: no account, no cost, and no endpoint URL, so the code path is the
real AWS one (credentials, region, waits, tags, cleanup). What moto cannot run (a Lambda
function's code) the specs say so themselves. What moto does not do, the mock adds: DynamoDB's
provisioned capacity is enforced and its metrics are published to CloudWatch as the service
does (``ddbspec.aws.mock_capacity``), on a service clock a spec may speed up (exercise 1).

FAULTS make the mock behave as AWS does when things go wrong, to see the suite cope:
``--deny ACTION`` refuses every call of ACTION (e.g. dynamodb:UpdateTable) as IAM does, in the
service's own wire format; ``--policy FILE`` refuses every action an IAM policy document does
not allow (by action: resources and conditions are not evaluated), to check that the shipped
policy (lib/ddbspec/aws/policy.json) grants all a run does; ``--throttle ACTION:N`` answers
its first N calls with a throttling error; ``--interrupt ACTION:N`` presses Ctrl-C right after
the Nth call has been answered, and ``--terminate ACTION:N`` then sends the process SIGTERM,
as ``timeout``, a cancelled CI job or ``docker stop`` would; ``--no-capacity`` enforces no
provisioned capacity and publishes no DynamoDB metric, as an emulator of AWS (exercise 1
then has to say so).
When pytest is done, whatever the run left in the mocked account is listed, and a run that
left anything (without --keep-tables) fails.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ddbspec.aws import mock_backoff
from ddbspec.aws.mock_capacity import Capacity

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "mock",
    "AWS_SECRET_ACCESS_KEY": "mock",
    "AWS_SESSION_TOKEN": "mock",
    "AWS_DEFAULT_REGION": "us-east-1",
    # botocore sends DynamoDB Streams calls to account-based endpoints
    # (123456789012.streams-ddb.<region>.amazonaws.com), which moto does not route: 404.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
LEFTOVERS = 3  # exit status of a run that passed but left something in the account
# botocore's service ids, where IAM's action prefix differs
IAM_PREFIX = {"dynamodb-streams": "dynamodb", "cloudwatch-logs": "logs"}
# The plugin's entry point asks pytest to rewrite the package's asserts, but this command
# imported it before pytest starts: nothing to rewrite, and nothing to warn the user about.
ALREADY_IMPORTED = (
    "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"
)
THROTTLE_CODE = {"dynamodb": "ProvisionedThroughputExceededException"}


def action_of(event_name: str) -> str:
    """'dynamodb:CreateTable' for botocore's event 'before-send.dynamodb.CreateTable'."""
    _, service, operation = event_name.split(".", 2)
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def counted(text: str) -> tuple[str, int]:
    """'ACTION:N' (N defaults to 1), for --throttle, --interrupt and --terminate."""
    action, _, n = text.rpartition(":") if text.count(":") > 1 else (text, "", "1")
    if not n.isdigit() or int(n) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ACTION or ACTION:N with N >= 1")
    return action, int(n)


@dataclass
class Faults:
    """What the mock does wrong on purpose, and how many calls of each action it has seen."""

    deny: set[str] = field(default_factory=set)
    allow: list[str] | None = None  # --policy's allowed action patterns; None: all allowed
    throttle: dict[str, int] = field(default_factory=dict)
    interrupt: dict[str, int] = field(default_factory=dict)
    no_capacity: bool = False  # DynamoDB's capacity not enforced, as an emulator of AWS
    terminate: dict[str, int] = field(default_factory=dict)
    active: bool = True
    seen: Counter[str] = field(default_factory=Counter)

    def refused(self, action: str, request: Any) -> str | None:
        """The action a call is refused for: ``action`` if denied, else the first of the IAM
        actions that authorize it which --policy does not grant; None if it may go."""
        if action in self.deny:
            return action
        if self.allow is None:
            return None
        return next((a for a in iam_actions(action, request) if not self.allows(a)), None)

    def allows(self, action: str) -> bool:
        """Whether --policy grants ``action`` (IAM matches actions without regard to case;
        sts:GetCallerIdentity needs no permission)."""
        if self.allow is None or action == "sts:GetCallerIdentity":
            return True
        return any(fnmatch.fnmatchcase(action.lower(), pattern) for pattern in self.allow)


TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def iam_actions(action: str, request: Any) -> list[str]:
    """The IAM actions that authorize a call: most calls their own; a transaction those of
    its items (there is no dynamodb:TransactWriteItems permission); CreateFunction also
    iam:PassRole, for the role it gives the function."""
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            items = json.loads(request.body or b"{}").get("TransactItems") or []
            return sorted({TRANSACTION_ACTIONS.get(kind, action) for i in items for kind in i})
    if action == "lambda:CreateFunction":
        return [action, "iam:PassRole"]
    return [action]


def allowed_actions(path: str) -> list[str]:
    """The action patterns an IAM policy document's Allow statements grant (for --policy)."""
    try:
        document = json.loads(Path(path).read_text())
        statements = document["Statement"]
        statements = [statements] if isinstance(statements, dict) else statements
        granted = [s.get("Action", []) for s in statements if s.get("Effect") == "Allow"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as problem:
        raise argparse.ArgumentTypeError(
            f"{path}: not a readable IAM policy document ({problem})"
        ) from None
    return [
        a.lower()
        for actions in granted
        for a in ([actions] if isinstance(actions, str) else actions)
    ]


def error_response(request: Any, status: int, code: str, message: str) -> Any:
    """An error as the service itself sends it: JSON services (DynamoDB, Logs) put the code in
    __type, query services (IAM, STS) in an XML ErrorResponse, REST ones (Lambda) in a header."""
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    kind = request.headers.get("Content-Type", b"")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    headers = {"x-amzn-RequestId": "ddbspec-mock"}
    if "amz-json" in kind:
        headers["Content-Type"] = kind
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": message})
    elif "x-www-form-urlencoded" in kind:
        headers["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>ddbspec-mock</RequestId>"
            "</ErrorResponse>"
        )
    else:
        headers.update({"Content-Type": "application/json", "x-amzn-ErrorType": code})
        body = json.dumps({"Type": "User", "message": message})
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


def refusal(request: Any, action: str) -> Any:
    message = (
        f"User: arn:aws:sts::123456789012:assumed-role/ddbspec-mock/run is not authorized to "
        f"perform: {action} on resource: * because no identity-based policy allows the "
        f"{action} action"
    )
    service = action.split(":")[0]
    if service in ("iam", "sts"):  # the query services
        return error_response(request, 403, "AccessDenied", message)
    status = 403 if service == "lambda" else 400
    return error_response(request, status, "AccessDeniedException", message)


def throttling(request: Any, action: str) -> Any:
    code = THROTTLE_CODE.get(action.split(":")[0], "ThrottlingException")
    return error_response(request, 400, code, f"Rate exceeded (simulated for {action})")


@contextlib.contextmanager
def answering(faults: Faults | None = None, capacity: Capacity | None = None) -> Iterator[Faults]:
    """moto answers one request at a time, as a server would, with ``faults`` applied and
    DynamoDB's ``capacity`` (ddbspec.aws.mock_capacity) enforced and published; the SDK
    retries a call throttled on purpose without waiting (ddbspec.aws.mock_backoff).

    moto's in-process backend is not thread-safe: parallel BatchWriteItems into a new
    partition can lose items (seen: 3997 of 4000). The suite's loaders and lock writers are
    concurrent on purpose, so the mock takes its requests one at a time.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    faults = faults or Faults()
    answer, lock, backoff = BotocoreStubber.__call__, threading.Lock(), mock_backoff.Backoff()

    def one_at_a_time(self: BotocoreStubber, event_name: str, request: Any, **kw: Any) -> Any:
        if not self.enabled:
            return None
        action = action_of(event_name)
        with lock:
            faults.seen[action] += 1
            n = faults.seen[action]
            refused = faults.refused(action, request) if faults.active else None
            throttled = not refused and faults.active and n <= faults.throttle.get(action, 0)
            backoff.answered(injected=throttled)
            if refused:
                return refusal(request, refused)
            if throttled:
                return throttling(request, action)

            def send(name: str, sent: Any) -> Any:
                return answer(self, name, sent, **kw)

            if capacity is None:
                response = send(event_name, request)
            else:
                response = capacity.answer(event_name, request, send)
        if faults.active and n == faults.terminate.get(action):
            os.kill(os.getpid(), signal.SIGTERM)  # whatever the process does with it
        if faults.active and n == faults.interrupt.get(action):
            raise KeyboardInterrupt(f"Ctrl-C (simulated by ddbspec.aws.mock) after {action}")
        return response

    with mock_backoff.installed(backoff):
        BotocoreStubber.__call__ = one_at_a_time  # type: ignore[method-assign]
        try:
            yield faults
        finally:
            BotocoreStubber.__call__ = answer  # type: ignore[method-assign]


def inventory(client: Callable[[str], Any] | None = None) -> list[str]:
    """Everything in the mocked account that a run could have created: in a mock, all of it
    is the suite's, so nothing is filtered by name or tag. ``client(service)`` reaches
    another emulator's account (default: boto3's, the in-process mock's)."""
    from ddbspec.engines.clients import aws_session

    client = client or aws_session().client
    ddb, lam, iam, logs = client("dynamodb"), client("lambda"), client("iam"), client("logs")
    return [
        *(f"table {n}" for n in ddb.list_tables()["TableNames"]),
        *(
            f"event source mapping {m['UUID']}"
            for m in lam.list_event_source_mappings()["EventSourceMappings"]
        ),
        *(f"function {f['FunctionName']}" for f in lam.list_functions()["Functions"]),
        *(f"role {r['RoleName']}" for r in iam.list_roles()["Roles"]),
        *(f"log group {g['logGroupName']}" for g in logs.describe_log_groups()["logGroups"]),
    ]


def parse(argv: list[str], prog: str = "ddbspec mock-aws") -> tuple[Faults, list[str]]:
    """The mock's own options; everything else is pytest's."""
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False)
    parser.add_argument("--deny", action="append", default=[], metavar="ACTION")
    parser.add_argument("--policy", type=allowed_actions, metavar="FILE")
    parser.add_argument("--throttle", action="append", type=counted, default=[])
    parser.add_argument("--interrupt", action="append", type=counted, default=[])
    parser.add_argument("--no-capacity", action="store_true")
    parser.add_argument("--terminate", action="append", type=counted, default=[])
    known, rest = parser.parse_known_args(argv)
    faults = Faults(
        deny=set(known.deny),
        allow=known.policy,
        throttle=dict(known.throttle),
        interrupt=dict(known.interrupt),
        no_capacity=known.no_capacity,
        terminate=dict(known.terminate),
    )
    return faults, rest


def prepare_moto() -> None:
    """moto as the mock runs it: with the suite's moto server's speed-ups, as its in-process
    backend has the same hot spots (the same answers, sooner: ddbspec.engines.motoserver),
    and with no function invoked, which moto cannot run, so that streams stay whole
    (exercise 8: ddbspec.aws.mock_lambda)."""
    from ddbspec.aws import mock_lambda
    from ddbspec.engines import motoserver

    motoserver.speed_up()
    mock_lambda.install()


def main(argv: list[str], prog: str = "ddbspec mock-aws") -> int:
    from moto import mock_aws

    from ddbspec.aws import account, mock_capacity
    from ddbspec.capacity.model import ScaledClock

    faults, args = parse(argv, prog)
    prepare_moto()
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    account.SERVICE_CLOCK = ScaledClock(1.0)  # the mock's time: a spec may speed it up (exercise 1)
    capacity = None if faults.no_capacity else Capacity(account.SERVICE_CLOCK)
    with mock_aws(), answering(faults, capacity), mock_capacity.as_cloudwatch_answers():
        status = int(pytest.main(["--aws", "-p", "no:xdist", "-W", ALREADY_IMPORTED, *args]))
        faults.active = False
        left = inventory()
    if not left:
        print("ddbspec mock-aws: the run left nothing in the mocked account")
        return status
    print("ddbspec mock-aws: left in the mocked account:\n  " + "\n  ".join(left))
    return status or (0 if "--keep-tables" in args else LEFTOVERS)
