"""An endpoint the user runs (``--endpoint-url``): checked, probed, never started or stopped."""

from __future__ import annotations

import botocore.exceptions

from ddbspec.config import Settings
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineError


class Endpoint(Engine):
    """Any DynamoDB-compatible endpoint that is already running (the user's own)."""

    name = "endpoint"

    def version(self) -> str:
        return "external"

    def check(self, settings: Settings) -> None:
        info = self._info(settings)
        ddb = info.client(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1})
        try:
            ddb.list_tables(Limit=1)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise EngineError(
                f"--endpoint-url {settings.endpoint_url} does not answer as DynamoDB "
                f"({error}). Start the server, or check the URL and port."
            ) from None

    def start(self, settings: Settings) -> EngineInfo:
        return self._probed(self._info(settings), settings)

    def _info(self, settings: Settings) -> EngineInfo:
        return EngineInfo(
            name=self.name,
            version=self.version(),
            region=settings.region or "us-east-1",
            endpoint_url=settings.endpoint_url,
        )
