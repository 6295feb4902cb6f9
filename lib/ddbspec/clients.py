"""boto3 clients for an engine: local engines get throwaway credentials, AWS the usual chain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from ddbspec.engines import EngineInfo

LOCAL_CREDENTIALS = {"aws_access_key_id": "ddbspec", "aws_secret_access_key": "ddbspec"}


def client(info: EngineInfo, service: str = "dynamodb", **config: Any) -> Any:
    """A client for ``service`` on the engine; ``config`` overrides botocore's Config.

    Parameters are left to the server to validate: botocore's own check of every request
    costs the client more CPU than the engine's work on a 2-core machine, and the server
    checks them anyway.
    """
    settings: dict[str, Any] = {
        "parameter_validation": False,
        "retries": {"mode": "adaptive" if info.endpoint_url is None else "standard"},
        "max_pool_connections": 32,
        **config,
    }
    kwargs: dict[str, Any] = {"region_name": info.region, "config": Config(**settings)}
    if info.endpoint_url is not None:
        kwargs.update(endpoint_url=info.endpoint_url, **LOCAL_CREDENTIALS)
    return boto3.session.Session().client(service, **kwargs)
