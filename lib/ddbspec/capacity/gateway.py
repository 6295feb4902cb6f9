"""The capacity gateway: DynamoDB's provisioned throughput in front of any local engine.

An HTTP server on 127.0.0.1 and a free port that forwards the DynamoDB JSON protocol to an
engine (dynalite, moto, DynamoDB Local, any endpoint), so boto3, the AWS CLI and every SDK
talk to it unchanged, while ``metering`` and ``accounting`` (in this folder) compute each
request's consumed capacity, throttle what the tables cannot take, and record
CloudWatch-shaped metrics. Only what it must change is changed: ConsumedCapacity, the items
a throttled batch hands back, and its own throttling errors; everything else, malformed
requests included, is the engine's answer.

It runs as a thread of the process that starts it, not as a process of its own. A spec needs
the gateway's clock, model and metrics in its own hands (to skip a pause, to read what was
throttled and when); a thread shares them without any protocol, and cannot outlive the run:
it goes when the pytest process goes, Ctrl-C and kill -9 included, where an engine process
needs a guard (``ddbspec.engines.guard``). The cost is the GIL, which the gateway's work (parsing,
sizing, forwarding) holds far less than the engine's answers take.

``ddbspec gateway ENGINE_URL [--factor F]`` runs one in the foreground, to try it
with the AWS CLI (``aws dynamodb --endpoint-url http://127.0.0.1:PORT ...``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import signal
import socket
import threading
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ddbspec import serving
from ddbspec.capacity.accounting import OPERATIONS
from ddbspec.capacity.metering import Metering, Reply, error
from ddbspec.capacity.metrics import Metrics
from ddbspec.capacity.model import Clock, real_clock

HOST = "127.0.0.1"
TARGET_PREFIX = "DynamoDB_20120810."
MAX_BODY = 16 * 1024 * 1024  # DynamoDB's largest request (a BatchWriteItem) is 16 MB
DRAIN_LIMIT = 64 * 1024 * 1024  # past this, a too-large body is not read, the socket closed
CONNECT_TIMEOUT = 2.0
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}
# What the gateway's own requests to the engine copy from the client's: its credentials (moto
# tells accounts apart by the access key) and the Host header HTTP/1.1 requires.
CALL_HEADERS = ("host", "authorization", "x-amz-date", "x-amz-security-token", "user-agent")
log = logging.getLogger(__name__)


class EngineDown(Exception):
    """The engine refused the connection, dropped it, or did not answer in time."""


class Upstream:
    """One keep-alive connection to the engine, for one client connection's requests."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the engine's URL must be http://host:port, not {url!r}")
        self.url, self.timeout = url, timeout
        self.address = (parts.hostname, parts.port or 80)
        self._conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        for fresh in (self._conn is None, True):
            if self._conn is None:
                self._conn = self._connect()
            try:
                return self._exchange(method, path, headers, body)
            except TimeoutError:
                self.close()
                raise EngineDown(
                    f"the engine at {self.url} did not answer in {self.timeout:g} s"
                ) from None
            except (http.client.HTTPException, OSError) as problem:
                self.close()
                if fresh:  # not a stale kept-alive connection: the engine itself is gone
                    raise EngineDown(f"the engine at {self.url} failed: {problem!r}") from None
        raise AssertionError("unreachable")

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(*self.address, timeout=self.timeout)
        try:
            conn.sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
        except OSError as problem:
            raise EngineDown(f"the engine at {self.url} does not answer: {problem}") from None
        conn.sock.settimeout(self.timeout)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _exchange(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> Reply:
        assert self._conn is not None
        self._conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            self._conn.putheader(name, value)
        self._conn.putheader("Content-Length", str(len(body)))
        self._conn.endheaders(body)
        answer = self._conn.getresponse()
        data = answer.read()
        kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
        if answer.will_close:
            self.close()
        return Reply(answer.status, data, kept)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Exchange:
    """A client request in flight: what ``Metering`` may do with it (see metering.Exchange)."""

    def __init__(
        self, op: str, body: dict[str, Any], raw: bytes, request: _Request, upstream: Upstream
    ) -> None:
        self.op, self.body, self.raw = op, body, raw
        self._request, self._upstream = request, upstream

    def forward(self, body: Mapping[str, Any] | None = None) -> Reply:
        raw = self.raw if body is None else json.dumps(body).encode()
        return self._upstream.send(*self._request.line, self._request.headers, raw)

    def call(self, op: str, payload: Mapping[str, Any]) -> Reply:
        headers = [(k, v) for k, v in self._request.headers if k.lower() in CALL_HEADERS] + [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", TARGET_PREFIX + op),
        ]
        return self._upstream.send("POST", "/", headers, json.dumps(payload).encode())


class _Request:
    def __init__(self, method: str, path: str, headers: list[tuple[str, str]]) -> None:
        self.line = (method, path)
        self.headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


class _Handler(serving.Handler):
    """One client connection: its requests, one after the other (HTTP/1.1 keep-alive)."""

    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.gateway.client_timeout  # type: ignore[misc]  # per client
        self.upstream = Upstream(self.server.gateway.engine_url, self.server.gateway.engine_timeout)
        super().setup()

    def finish(self) -> None:
        super().finish()
        self.upstream.close()

    def do_POST(self) -> None:
        self._exchange()

    do_GET = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_POST

    def _exchange(self) -> None:
        gateway = self.server.gateway
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(error(411, "LengthRequiredException", "Content-Length is required"))
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._reply(error(400, "SerializationException", "Content-Length is not a number"))
            self.close_connection = True
            return
        if length > gateway.max_body:
            self._too_large(length)
            return
        raw = self.rfile.read(length)
        if len(raw) < length:  # the client disconnected mid-request: nothing to answer
            self.close_connection = True
            return
        request = _Request(self.command, self.path, list(self.headers.items()))
        try:
            reply = gateway.dispatch(request, raw, self.upstream)
        except EngineDown as down:
            reply = error(503, "ServiceUnavailable", f"{down} (through the capacity gateway)")
        except Exception:
            gateway.failed(traceback.format_exc())
            reply = error(500, "InternalServerError", "Internal server error (capacity gateway)")
        self._reply(reply)

    def _too_large(self, length: int) -> None:
        """413, as the service answers a body over its limit; the body is read and dropped
        (if not absurdly large) so the client reads the answer rather than a reset."""
        limit = self.server.gateway.max_body
        if length <= DRAIN_LIMIT:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
        else:
            self.close_connection = True
        message = f"Request entity of {length} bytes is larger than the {limit} bytes allowed"
        self._reply(error(413, "RequestEntityTooLarge", message))

    def _reply(self, reply: Reply) -> None:
        """Status line, headers and body in one write: written apart, Nagle's algorithm and
        the client's delayed ACK would hold each answer back for 40 ms."""
        lines = [
            f"{self.protocol_version} {reply.status} {self.responses.get(reply.status, ('',))[0]}"
        ]
        lines += [f"{k}: {v}" for k, v in reply.headers if k.lower() not in HOP_BY_HOP]
        lines.append(f"Content-Length: {len(reply.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (b"" if self.command == "HEAD" else reply.body))
        self.log_request(reply.status, len(reply.body))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(serving.Server):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, _Handler)


class Gateway:
    """A capacity gateway for the engine at ``engine_url``; use as a context manager.

    ``clock`` sets the pace (a ``ScaledClock`` with a factor runs the buckets faster);
    ``metrics`` is what it recorded; ``errors`` any failure of its own (a bug, reported
    to the client as a 500 and kept here so a test can fail on it).
    """

    def __init__(
        self,
        engine_url: str,
        clock: Clock | None = None,
        *,
        region: str = "us-east-1",
        host: str = HOST,
        port: int = 0,
        max_body: int = MAX_BODY,
        engine_timeout: float = 60.0,
        client_timeout: float = 60.0,
    ) -> None:
        Upstream(engine_url, engine_timeout)  # checks the URL now rather than per request
        self.engine_url, self.engine_timeout, self.max_body = engine_url, engine_timeout, max_body
        self.client_timeout = client_timeout
        self.clock = clock or real_clock()
        self.metrics = Metrics(self.clock)
        self.metering = Metering(self.clock, self.metrics, region, OPERATIONS)
        self.errors: list[str] = []
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an IPv4 server's address
        return f"http://{host}:{port}"

    def start(self) -> Gateway:
        self._thread = self._server.serve_in(f"ddbspec-gateway-{self.url}", daemon=True)
        return self

    def stop(self) -> None:
        self._server.stop(self._thread)
        self._thread = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def dispatch(self, request: _Request, raw: bytes, upstream: Upstream) -> Reply:
        """Meter a DynamoDB request; anything else goes to the engine as it came."""
        target = dict((k.lower(), v) for k, v in request.headers).get("x-amz-target", "")
        exchange = _Exchange(target.removeprefix(TARGET_PREFIX), {}, raw, request, upstream)
        if request.line[0] != "POST" or not target.startswith(TARGET_PREFIX):
            return exchange.forward()
        try:
            body = json.loads(raw)
        except ValueError:
            return exchange.forward()
        if not isinstance(body, dict):
            return exchange.forward()
        exchange.body = body
        return self.metering.handle(exchange)

    def failed(self, trace: str) -> None:
        log.error("capacity gateway failure:\n%s", trace)
        self.errors.append(trace)


def main(argv: list[str], prog: str = "ddbspec gateway") -> int:
    from ddbspec.capacity.model import ScaledClock

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Enforce DynamoDB's provisioned throughput in front of a local engine.",
    )
    parser.add_argument("engine_url", help="the engine's endpoint, e.g. http://127.0.0.1:8000")
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: free)")
    parser.add_argument("--factor", type=float, default=1.0, help="clock speed-up (default 1)")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    clock = ScaledClock(args.factor)
    gateway = Gateway(args.engine_url, clock, region=args.region, host=args.host, port=args.port)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # docker stop: stop as on Ctrl-C
    return _serve(
        gateway, f"capacity gateway on {gateway.url} -> {args.engine_url}, clock x{args.factor:g}"
    )


def _serve(gateway: Gateway, banner: str) -> int:
    """Serve until Ctrl-C (or SIGTERM), then stop; 0 however early it came.

    ``banner`` and "Ctrl-C to stop" are printed once the gateway serves, and a Ctrl-C stops
    it cleanly from the first moment: one that came while the gateway was still starting
    (its thread already answering, the main thread not yet back from starting it, on a busy
    machine) ended the program with a traceback."""
    with contextlib.suppress(KeyboardInterrupt), gateway:
        print(banner)
        print("Ctrl-C to stop", flush=True)
        threading.Event().wait()
    return 0
