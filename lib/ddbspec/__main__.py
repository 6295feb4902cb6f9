"""``python -m ddbspec capabilities [ENGINE...]``: start engines, probe them, print a table.

The same probes the suite runs at start, so the README's capability table can be checked
against what the engines really do on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ddbspec import engines
from ddbspec.probes import CAPABILITIES


def capabilities(names: list[str]) -> str:
    settings = engines.Settings(
        run_id="probe", state_dir=Path(tempfile.mkdtemp()), owner_pid=os.getpid()
    )
    rows = ["| engine | " + " | ".join(CAPABILITIES) + " |", "|---|" + "---|" * len(CAPABILITIES)]
    try:
        for name in names:
            info = engines.acquire(settings, name)
            if info.error or info.unavailable:
                rows.append(f"| {name} | {info.error or info.unavailable} |")
                continue
            found = " | ".join("yes" if info.capabilities.get(c) else "no" for c in CAPABILITIES)
            rows.append(f"| {name} {info.version} | {found} |")
    finally:
        engines.release_all(settings)
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ddbspec")
    commands = parser.add_subparsers(dest="command", required=True)
    probe = commands.add_parser("capabilities", help="probe engines and print what they support")
    probe.add_argument(
        "engines",
        nargs="*",
        default=list(engines.POOL),
        choices=[n for n in engines.ENGINES if n not in ("endpoint", "aws")],
    )
    args = parser.parse_args(argv)
    print(capabilities(args.engines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
