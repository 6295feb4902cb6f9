"""The suite's small commands.

``python -m ddbspec capabilities [ENGINE...]`` starts engines, probes them with the probes the
suite runs at start, and prints what each supports (the README's table).
``python -m ddbspec sweep-aws [--region R] [--prefix P] [--yes]`` lists what killed runs left in
an AWS account (tables, Lambda functions and their mappings, IAM roles, log groups, named P-*
and carrying the suite's tags) and deletes them with --yes.
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


def sweep_aws(region: str | None, prefix: str, yes: bool) -> int:
    """List what earlier runs left (by name and tags), and delete it with ``yes``."""
    import boto3

    from ddbspec import aws

    clients = boto3.session.Session(region_name=region).client
    found = aws.leftovers(clients, f"{prefix}-")
    if not found:
        print(f"nothing to sweep: nothing named {prefix}-* carries the suite's tags")
        return 0
    print("left by earlier runs:\n  " + "\n  ".join(map(str, found)))
    if not yes:
        print("run again with --yes to delete them")
        return 1
    deleted, failed = aws.sweep(clients, found)
    print("deleted:\n  " + "\n  ".join(map(str, deleted)))
    if failed:
        print("could not delete:\n  " + "\n  ".join(failed))
    return 2 if failed else 0


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
    sweep = commands.add_parser("sweep-aws", help="delete what killed runs left in AWS")
    sweep.add_argument("--region")
    sweep.add_argument("--prefix", default="ddbspec")
    sweep.add_argument("--yes", action="store_true", help="delete them (default: only list)")
    args = parser.parse_args(argv)
    if args.command == "sweep-aws":
        return sweep_aws(args.region, args.prefix, args.yes)
    print(capabilities(args.engines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
