"""``python -m ddbspec.engines.reaper CONTAINER``: remove the container once told to stop.

Run under ``ddbspec.engines.guard``, it is told to stop when the run ends or its owner dies,
Ctrl-C and kill -9 included, and then removes the container: a run leaves none behind.
"""

from __future__ import annotations

import signal
import sys

from ddbspec.engines.containers import remove


def main(argv: list[str]) -> int:
    stopped: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: stopped.append(number))
    while not stopped:
        signal.pause()
    remove(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
