"""Who a live-account run is, what a refusal means, the tags that mark what the suite creates
there, and the clock the service runs on."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ddbspec.capacity.model import ScaledClock, real_clock
from ddbspec.errors import code_of

PROJECT_TAG = ("project", "ddbspec")
RUN_TAG = "ddbspec-run"
# The service's time when it is not the real one: ddbspec.aws.mock sets the clock on which its
# mock meters capacity and stamps CloudWatch's datapoints (movable and faster, like a gateway's).
SERVICE_CLOCK: ScaledClock | None = None


def service_clock() -> ScaledClock:
    """The clock the service's capacity and metrics run on: real time (which ``skip`` waits
    out) on AWS, the mock's own under ddbspec.aws.mock."""
    return SERVICE_CLOCK or real_clock()


def account(info: Any) -> str:
    """The account id the credentials belong to (STS), for the header."""
    return info.client("sts").get_caller_identity()["Account"]


def refused(error: BaseException) -> str | None:
    """For an AccessDenied from AWS, a message naming the permission that is missing."""
    if not isinstance(error, ClientError):
        return None
    if code_of(error) not in ("AccessDenied", "AccessDeniedException"):
        return None
    said = error.response["Error"].get("Message", "")
    named = re.search(r"perform: ([\w-]+:\w+)", said)
    action = named.group(1) if named else f"the permission for {error.operation_name}"
    return (
        f"AWS refused {action}: the credentials in use lack it. Add it to their policy "
        f"(lib/ddbspec/aws/policy.json lists everything a run needs), or run as a principal "
        f"that has it. AWS said: {said}"
    )


Clients = Callable[[str], Any]
