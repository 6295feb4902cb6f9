"""Deliberately faulty engines: proxies in front of a sound engine that change one answer.

Tests need engines that answer wrongly in a way a real bug could. Each proxy forwards every
request and answer unchanged, except the successful answers to one operation:

- ``DroppingProxy`` (the matrix's tests): a Query page loses its last item and its ``Count``
  drops by one (``ScannedCount`` stays as the engine said), so only the figures that come
  from Query results go wrong;
- ``MisreportingProxy`` (the cost ledger's tests): a Scan reports half a read unit, whatever
  it read, as ministack does, so only the engine's own ConsumedCapacity goes wrong.

Requests keep every header as the client sent it, ``Host`` and the signature included: local
engines do not check signatures. An answer that is changed gets a new ``Content-Length`` and,
if the engine sent one, a new ``x-amz-crc32``: boto3 checks that checksum and would retry,
then fail, on a body that no longer matches it.
"""

from __future__ import annotations

import http.client
import json
import threading
import zlib
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ddbspec import serving
from ddbspec.engines.processes import HOST

TARGET = "DynamoDB_20120810."
# Headers that belong to one connection, not to the message; Content-Length is recomputed.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
LENGTH = "content-length"
CRC32 = "x-amz-crc32"

Headers = list[tuple[str, str]]


class FaultyProxy:
    """In front of the DynamoDB endpoint ``upstream_url``: ``change`` each successful answer
    to ``operation``.

    Use as a context manager; ``url`` is where clients connect, ``changed`` how many answers
    it has changed so far.
    """

    operation = ""
    name = "faulty-proxy"

    def __init__(self, upstream_url: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be http://host:port, not {upstream_url!r}")
        self.upstream_url = upstream_url
        self.upstream = (parts.hostname, parts.port or 80)
        self.timeout = timeout
        self.changed = 0
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def __enter__(self) -> FaultyProxy:
        self._thread = self._server.serve_in(f"{self.name}-{self.url}", daemon=False)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving, wake the handlers idle on kept-alive clients, then join them all:
        nothing of the proxy outlives the ``with``."""
        self._server.stop(self._thread)  # joins the handler threads too (block_on_close)
        self._thread = None

    def forward(
        self, method: str, path: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        """The upstream's answer to the request, on a connection of its own."""
        conn = http.client.HTTPConnection(*self.upstream, timeout=self.timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            answer = conn.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            conn.close()

    def answer(
        self, target: str, status: int, headers: Headers, body: bytes
    ) -> tuple[Headers, bytes]:
        """The answer as the client gets it: changed if it is one of ``operation``'s."""
        if target != TARGET + self.operation or status != 200:
            return headers, body
        page = json.loads(body)
        if not self.change(page):
            return headers, body
        with self._lock:
            self.changed += 1
        changed = json.dumps(page).encode()
        crc = str(zlib.crc32(changed))
        return [(k, crc if k.lower() == CRC32 else v) for k, v in headers], changed

    def change(self, page: dict[str, Any]) -> bool:
        """Change ``page`` in place; False if it is left as it was."""
        raise NotImplementedError


class DroppingProxy(FaultyProxy):
    """A Query page one item short."""

    operation = "Query"
    name = "dropping-proxy"

    def change(self, page: dict[str, Any]) -> bool:
        if not page.get("Items"):
            return False
        page["Items"].pop()
        page["Count"] -= 1
        return True


class MisreportingProxy(FaultyProxy):
    """A Scan that reports half a read unit in its ConsumedCapacity, whatever it read."""

    operation = "Scan"
    name = "misreporting-proxy"

    def change(self, page: dict[str, Any]) -> bool:
        consumed = page.get("ConsumedCapacity")
        if not consumed:
            return False
        consumed["CapacityUnits"] = 0.5
        for part in ("Table", *consumed.get("GlobalSecondaryIndexes", {}).values()):
            if isinstance(part, dict):
                part["CapacityUnits"] = 0.5
        return True


class _Handler(serving.Handler):
    """One client connection: headers and body go out in two writes (``serving`` turns
    Nagle's algorithm off: with it a spec module ran 5 times slower through the proxy)."""

    server: _Server

    def do_POST(self) -> None:
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get(LENGTH) or 0))
        sent = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {LENGTH}]
        try:
            status, headers, data = proxy.forward(self.command, self.path, sent, body)
        except (OSError, http.client.HTTPException) as problem:
            self._reply(502, [], f"upstream {proxy.upstream_url} failed: {problem!r}".encode())
            return
        headers, data = proxy.answer(self.headers.get("X-Amz-Target", ""), status, headers, data)
        self._reply(status, headers, data)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_POST

    def _reply(self, status: int, headers: Headers, body: bytes) -> None:
        self.send_response_only(status)  # the upstream's own Date and Server headers stay
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP | {LENGTH}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(serving.Server):
    """Handler threads are joined at close (not daemons), so none is left behind."""

    daemon_threads = False

    def __init__(self, proxy: FaultyProxy) -> None:
        self.proxy = proxy
        super().__init__((HOST, 0), _Handler)
