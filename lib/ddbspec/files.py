"""Files that other processes read while they may be written (xdist's workers, the next run)."""

from __future__ import annotations

import os
from pathlib import Path


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a reader, or a Ctrl-C in the middle,
    never leaves an empty or half-written file. The partial file is named by the process
    and ends otherwise than ``path``, so that no glob for such files finds it."""
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)
