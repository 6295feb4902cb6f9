"""The real service (``--aws``): credentials and region checked before anything starts."""

from __future__ import annotations

import boto3
import botocore.exceptions

from ddbspec.config import Settings
from ddbspec.engines import clients
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineError

AWS_CAPABILITIES = {
    "online_gsi": True,
    "transactions": True,
    "streams": True,
    "enforced_capacity": True,
    "metering": True,  # the service is the reference the rules are held against
}
POLL = 2.0  # seconds between looks at what AWS is still doing: it takes seconds to minutes
# An emulator (every service elsewhere) is done in a moment, and a look costs nothing: at
# AWS's pace, exercise 8 on ministack waited 2 s for a function that was ready in a moment.
EMULATOR_POLL = 0.5


class Aws(Engine):
    """The real service, with region and credentials from the usual boto3 chain."""

    name = "aws"
    local = False

    def version(self) -> str:
        return f"boto3 {boto3.__version__}"

    def check(self, settings: Settings) -> None:
        try:
            session = boto3.session.Session(region_name=settings.region)
            credentials = session.get_credentials()
        except botocore.exceptions.ProfileNotFound as error:
            raise EngineError(
                f"--aws: {error}. Set AWS_PROFILE to a profile in "
                "~/.aws/config (aws configure list-profiles), or unset it."
            ) from None
        if credentials is None:
            raise EngineError(
                "--aws needs AWS credentials and none were found. Provide them the usual "
                "way: `aws configure` (or `aws sso login --profile NAME` with AWS_PROFILE=NAME), "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        if not session.region_name:
            raise EngineError("--aws needs a region: pass --region, or set AWS_REGION.")

    def start(self, settings: Settings) -> EngineInfo:
        region = settings.region or boto3.session.Session().region_name
        found = clients.elsewhere(region)
        reference = "dynamodb" not in found  # an emulator's figures are its own
        return EngineInfo(
            name=self.name,
            version=self.version() + where(found),
            region=region,
            capabilities={**AWS_CAPABILITIES, "metering": reference},
            poll=EMULATOR_POLL if len(found) == len(clients.SERVICES) else POLL,
            timeout=1800.0,
            reference=reference,
        )


def where(found: dict[str, str]) -> str:
    """What the summary adds to the engine's name when boto3 is sent elsewhere than AWS."""
    if not found:
        return ""
    partly = "partly " if len(found) < len(clients.SERVICES) else ""
    return f" at {clients.sent_to(found)} ({partly}not the service)"
