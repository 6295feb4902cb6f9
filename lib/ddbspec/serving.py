"""An HTTP/1.1 server in threads that stops at once: the capacity gateway is one, and so is
the tests' faulty engine.

boto3 keeps its connections alive, so a handler spends most of its life waiting for a
client's next request; stopping the server alone would wait for every such client to go.
The server keeps track of its clients' connections and shuts them when it stops, which wakes
those handlers at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its clients' open connections."""

    def __init__(self, address: tuple[str, int], handler: type[Handler]) -> None:
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, opened: bool) -> None:
        with self._lock:
            (self._open.add if opened else self._open.discard)(connection)

    def close_connections(self) -> None:
        """Wake every handler waiting on a kept-alive client, so stopping is immediate."""
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def serve_in(self, name: str, daemon: bool) -> threading.Thread:
        """Serve in a thread of its own, started."""
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=daemon
        )
        thread.start()
        return thread

    def stop(self, thread: threading.Thread | None) -> None:
        """Stop serving, wake the handlers idle on kept-alive clients, close."""
        if thread is not None:
            self.shutdown()
            thread.join()
        self.close_connections()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """One client connection, kept alive (HTTP/1.1) as boto3's pool expects."""

    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        # An answer's parts may go out in two writes: with Nagle's algorithm, the client's
        # delayed ACK would hold each answer back 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, False)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):  # the client went away, or went quiet
            self.close_connection = True
