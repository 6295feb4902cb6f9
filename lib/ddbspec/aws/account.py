"""Who a live-account run is, what a refusal means, the tags that mark what the suite creates
there, and the clock the service runs on."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ddbspec.capacity.model import ScaledClock, real_clock
from ddbspec.errors import code_of

PROJECT_TAG = ("project", "ddbspec")
RUN_TAG = "ddbspec-run"
# The service's time when it is not the real one: ddbspec.aws.mock sets the clock on which its
# mock meters capacity and stamps CloudWatch's datapoints (movable and faster, like a gateway's).
SERVICE_CLOCK: ScaledClock | None = None
# every service a --aws run calls
SERVICES = ("dynamodb", "dynamodbstreams", "lambda", "iam", "logs", "sts", "cloudwatch")


def service_clock() -> ScaledClock:
    """The clock the service's capacity and metrics run on: real time (which ``skip`` waits
    out) on AWS, the mock's own under ddbspec.aws.mock."""
    return SERVICE_CLOCK or real_clock()


def account(info: Any) -> str:
    """The account id the credentials belong to (STS), for the header."""
    return info.client("sts").get_caller_identity()["Account"]


def elsewhere(region: str | None) -> dict[str, str]:
    """The services boto3 sends somewhere else than AWS, with where: AWS_ENDPOINT_URL,
    AWS_ENDPOINT_URL_<SERVICE>, a profile's endpoint_url. botocore resolves them; a client that
    ignores them says where the service itself is."""
    if not _endpoints_configured():
        return {}  # the usual case, without making a client of each service (1 s)
    session = boto3.session.Session(region_name=region)
    itself = Config(ignore_configured_endpoint_urls=True)
    found = {}
    for service in SERVICES:
        url = session.client(service).meta.endpoint_url
        if url != session.client(service, config=itself).meta.endpoint_url:
            found[service] = url
    return found


def _endpoints_configured() -> bool:
    if any(name.startswith("AWS_ENDPOINT_URL") for name in os.environ):
        return True
    with contextlib.suppress(BotoCoreError):  # no such profile: Aws.check says so
        profile = botocore.session.Session().get_scoped_config()
        return "endpoint_url" in profile or "services" in profile
    return False


def sent_to(found: dict[str, str]) -> str:
    """Where ``elsewhere``'s services go: one URL if all go there, else each URL's services,
    and AWS itself for the rest."""
    urls: dict[str, list[str]] = {}
    for service, url in found.items():
        urls.setdefault(url, []).append(service)
    if len(urls) == 1 and len(found) == len(SERVICES):
        return next(iter(urls))
    rest = [s for s in SERVICES if s not in found]
    parts = [f"{url} for {', '.join(services)}" for url, services in urls.items()]
    return "; ".join(parts + ([f"AWS itself for {', '.join(rest)}"] if rest else []))


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
