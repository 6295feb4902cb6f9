"""boto3 clients for an engine: local engines get throwaway credentials, AWS the usual chain;
and where boto3 sends a --aws run (``elsewhere``), when that is not AWS itself."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from ddbspec.engines import parsing

# every service a --aws run calls
SERVICES = ("dynamodb", "dynamodbstreams", "lambda", "iam", "logs", "sts", "cloudwatch")
LOCAL_CREDENTIALS = {"aws_access_key_id": "ddbspec", "aws_secret_access_key": "ddbspec"}


class Retries:
    """The SDK's retries, counted by the error that caused each, across the process's clients.

    botocore retries throttling and transient errors quietly; counting them (the summary
    prints the count) shows a run that only passed by retrying. Each call's failed attempts
    are noted as they happen (one thread runs one call) and counted when the call ends, as
    many as botocore says it retried.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.local = threading.local()

    def watch(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call", self._begin)
        events.register_first("needs-retry", self._attempt)
        events.register("after-call", self._end)
        events.register("after-call-error", self._failed)

    def _begin(self, **_: Any) -> None:
        self.local.failures = []

    def _attempt(self, response: Any = None, caught_exception: Any = None, **_: Any) -> None:
        if caught_exception is not None:
            self._note(type(caught_exception).__name__)
        elif response is not None and response[0].status_code >= 300:
            self._note(response[1].get("Error", {}).get("Code") or str(response[0].status_code))

    def _note(self, code: str) -> None:
        failures = getattr(self.local, "failures", None)
        if failures is not None:
            failures.append(code)

    def _end(self, parsed: Any = None, **_: Any) -> None:
        retried = (parsed or {}).get("ResponseMetadata", {}).get("RetryAttempts", 0)
        self._count(retried)

    def _failed(self, **_: Any) -> None:  # no response at all: every attempt but the last
        self._count(len(getattr(self.local, "failures", None) or [None]) - 1)

    def _count(self, retried: int) -> None:
        failures = getattr(self.local, "failures", None) or []
        self.local.failures = None
        if retried:
            seen = failures[:retried] + ["(unknown)"] * (retried - len(failures))
            with self.lock:
                self.counts.update(seen)

    def take(self) -> dict[str, int]:
        """The counts since the last ``take``, by error code."""
        with self.lock:
            taken, self.counts = dict(self.counts), Counter()
        return taken


RETRIES = Retries()


def client(region: str, endpoint_url: str | None, service: str = "dynamodb", **config: Any) -> Any:
    """A client for ``service`` at ``endpoint_url`` (None: AWS); ``config`` overrides
    botocore's Config. It takes an engine's address, not its ``EngineInfo``, so that this
    module depends on no other of the engines.

    Parameters are left to the server to validate: botocore's own check of every request
    costs the client more CPU than the engine's work on a 2-core machine, and the server
    checks them anyway. For the same reason answers are read by ``parsing``, which gives
    what botocore's parser gives for a third of its CPU.
    """
    settings: dict[str, Any] = {
        "parameter_validation": False,
        "retries": {"mode": "adaptive" if endpoint_url is None else "standard"},
        "max_pool_connections": 32,
        **config,
    }
    kwargs: dict[str, Any] = {"region_name": region, "config": Config(**settings)}
    if endpoint_url is None:  # AWS: the credential chain as it is now
        made = aws_session().client(service, **kwargs)
    else:
        with LOCAL_SESSION_LOCK:  # a session is not thread-safe; its clients are
            made = local_session().client(
                service, endpoint_url=endpoint_url, **LOCAL_CREDENTIALS, **kwargs
            )
    RETRIES.watch(made)
    parsing.install(made)
    return made


LOCAL_SESSION_LOCK = threading.Lock()


class _Models(botocore.loaders.Loader):
    """botocore's service models, read once for every AWS session of the process (threads
    may share it: its one state is a cache of what it read). boto3 adds its own folder to
    the search paths of each session's loader: here to a copy, so that they do not grow."""

    @property
    def search_paths(self) -> list[str]:
        return list(self._search_paths)


@functools.cache
def _models() -> _Models:
    """Where a session of boto3's own looks: botocore's paths (AWS_DATA_PATH's too), boto3's."""
    botocores = botocore.session.get_session().get_component("data_loader").search_paths
    paths = [*botocores, str(Path(boto3.__file__).parent / "data")]
    return _Models(extra_search_paths=paths, include_default_search_paths=False)


def aws_session(region: str | None = None) -> Any:
    """A new session, which reads the credential chain as it is now, that shares the models
    already read (``_Models``): a client then costs 15 ms of CPU, against 100-400 ms with
    a loader of its own."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _models())
    return boto3.session.Session(botocore_session=core, region_name=region)


@functools.cache
def local_session() -> Any:
    """One session for every client of a local engine: a new session loads the service's
    model again (130 ms of CPU a client, against 5 ms), and local clients take explicit
    credentials, so nothing in a session's credential chain matters to them."""
    return boto3.session.Session()


def elsewhere(region: str | None) -> dict[str, str]:
    """The services boto3 sends somewhere else than AWS, with where: AWS_ENDPOINT_URL,
    AWS_ENDPOINT_URL_<SERVICE>, a profile's endpoint_url. botocore resolves them; a client that
    ignores them says where the service itself is."""
    if not _endpoints_configured():
        return {}  # the usual case, without making a client of each service (1 s)
    session = aws_session(region)
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
