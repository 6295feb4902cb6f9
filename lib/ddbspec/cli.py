"""``ddbspec``: the suite's commands (also ``python -m ddbspec``).

``ddbspec capabilities [ENGINE...]`` starts engines, probes them with the probes the suite runs
at start, and prints what each supports (the README's table).
``ddbspec sweep-aws [--region R] [--prefix P] [--yes]`` lists what killed runs left in an AWS
account (tables, Lambda functions and their mappings, IAM roles, log groups, named P-* and
carrying the suite's tags) and deletes them with --yes.
``ddbspec gateway ENGINE_URL [--port P] [--factor F]`` puts DynamoDB's provisioned throughput
in front of an engine, in the foreground.
``ddbspec mock-aws [FAULTS] [PYTEST ARGS]`` runs ``pytest --aws`` against moto's in-process
mock of AWS, with faults on demand.
``ddbspec bench compare [RUN...] [--storage DIR] [--chart PNG] [--gate]`` prints the saved
benchmark runs' ratios side by side, draws them, and with --gate fails a regression.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ddbspec.aws import sweep
from ddbspec.config import Settings
from ddbspec.engines import registry
from ddbspec.engines.probes import CAPABILITIES


def capabilities(names: list[str]) -> str:
    settings = Settings(run_id="probe", state_dir=Path(tempfile.mkdtemp()), owner_pid=os.getpid())
    rows = ["| engine | " + " | ".join(CAPABILITIES) + " |", "|---|" + "---|" * len(CAPABILITIES)]
    try:
        for name in names:
            info = registry.acquire(settings, name)
            if info.error or info.unavailable:
                rows.append(f"| {name} | {info.error or info.unavailable} |")
                continue
            found = " | ".join("yes" if info.capabilities.get(c) else "no" for c in CAPABILITIES)
            rows.append(f"| {name} {info.version} | {found} |")
    finally:
        registry.release_all(settings)
    return "\n".join(rows)


def sweep_aws(region: str | None, prefix: str, yes: bool) -> int:
    """List what earlier runs left (by name and tags), and delete it with ``yes``."""
    import boto3

    clients = boto3.session.Session(region_name=region).client
    found = sweep.leftovers(clients, f"{prefix}-")
    if not found:
        print(f"nothing to sweep: nothing named {prefix}-* carries the suite's tags")
        return 0
    print("left by earlier runs:\n  " + "\n  ".join(map(str, found)))
    if not yes:
        print("run again with --yes to delete them")
        return 1
    deleted, failed = sweep.delete(clients, found)
    print("deleted:\n  " + "\n  ".join(map(str, deleted)))
    if failed:
        print("could not delete:\n  " + "\n  ".join(failed))
    return 2 if failed else 0


def gateway(argv: list[str]) -> int:
    from ddbspec.capacity import gateway

    return gateway.main(argv)


def mock_aws(argv: list[str]) -> int:
    from ddbspec.aws import mock

    return mock.main(argv)


def bench(argv: list[str]) -> int:
    from ddbspec.bench import compare

    return compare.main(argv)


# Commands whose arguments their own parsers read (mock-aws passes what it does not know to
# pytest), with the line --help shows for each.
PROGRAMS = {
    "gateway": (gateway, "DynamoDB's provisioned throughput in front of an engine"),
    "mock-aws": (mock_aws, "pytest --aws against moto's in-process mock, with faults"),
    "bench": (bench, "saved benchmark runs compared by their ratios, drawn, gated"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PROGRAMS:
        return PROGRAMS[argv[0]][0](argv[1:])
    parser = argparse.ArgumentParser(
        prog="ddbspec", description="The DynamoDB design-pattern suite's commands."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    probe = commands.add_parser("capabilities", help="probe engines and print what they support")
    probe.add_argument(
        "engines",
        nargs="*",
        default=list(registry.POOL),
        choices=[n for n in registry.ENGINES if n not in ("endpoint", "aws")],
    )
    swept = commands.add_parser("sweep-aws", help="delete what killed runs left in AWS")
    swept.add_argument("--region")
    swept.add_argument("--prefix", default="ddbspec")
    swept.add_argument("--yes", action="store_true", help="delete them (default: only list)")
    for name, (_, line) in PROGRAMS.items():
        commands.add_parser(name, help=f"{line} (ddbspec {name} --help)")
    args = parser.parse_args(argv)
    if args.command == "sweep-aws":
        return sweep_aws(args.region, args.prefix, args.yes)
    print(capabilities(args.engines))
    return 0
