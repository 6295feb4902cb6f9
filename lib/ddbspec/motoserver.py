"""moto's server, answering one request at a time.

moto's backends are not thread-safe: two BatchWriteItems that create the same new partition
at once can each make its item dict, and one overwrites the other (seen: 3998 of 4000
employee items). The suite writes concurrently on purpose, so the server keeps moto's
threads (for keep-alive connections) but runs the application under one lock, as a real
service would serialize conflicting writes. ``python -m ddbspec.motoserver HOST PORT``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneAtATime:
    """A WSGI middleware that lets one request at a time into the application."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


def main(host: str, port: int) -> None:
    run_simple(
        host,
        port,
        OneAtATime(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
