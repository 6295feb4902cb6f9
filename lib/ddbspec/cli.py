"""``ddbspec``: the suite's commands (also ``python -m ddbspec``).

``ddbspec capabilities [ENGINE...]`` starts engines, probes them with the probes the suite runs
at start, and prints what each supports (the README's table).
``ddbspec sweep-aws [--region R] [--prefix P] [--yes]`` lists what killed runs left in an AWS
account (tables, Lambda functions and their mappings, IAM roles, log groups, named P-* and
carrying the suite's tags) and deletes them with --yes.
``ddbspec images build [IMAGE...]`` builds the images the suite can run (its engines, the
gateway, the suite itself) from what this machine has, keeping those that are up to date.
``ddbspec gateway ENGINE_URL [--port P] [--factor F]`` puts DynamoDB's provisioned throughput
in front of an engine, in the foreground.
``ddbspec mock-aws [FAULTS] [PYTEST ARGS]`` runs ``pytest --aws`` against moto's in-process
mock of AWS, with faults on demand.
``ddbspec emulate-aws [PYTEST ARGS]`` runs ``pytest --aws`` against ministack, an emulator of
AWS written by others, started for the run.
``ddbspec bench compare [RUN...] [--storage DIR] [--chart PNG] [--gate]`` prints the saved
benchmark runs' ratios side by side, draws them, and with --gate fails a regression.
``ddbspec bench engines [ENGINE...] [--rounds N]`` times each exercise on each engine and
prints the ``auto`` pool's order that follows from them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ddbspec.aws import sweep
from ddbspec.config import Settings
from ddbspec.engines import probes, registry
from ddbspec.engines.probes import CAPABILITIES


def capabilities(names: list[str]) -> str:
    """The README's capability table, measured: each engine started, probed and stopped;
    ``container:IMAGE`` is the container engine running IMAGE (a preset or a reference)."""
    rows = ["| engine | " + " | ".join(CAPABILITIES) + " |", "|---|" + "---|" * len(CAPABILITIES)]
    notes = []
    for name in names:
        engine, _, image = name.partition(":")
        settings = Settings(
            run_id="probe",
            state_dir=Path(tempfile.mkdtemp(prefix="ddbspec-probe-")),
            owner_pid=os.getpid(),
            container_image=image or None,
        )
        registry.ENGINES[engine].forget(settings)  # probed afresh, and remembered anew
        try:
            info = registry.acquire(settings, engine)
            if info.error or info.unavailable:
                rows.append(f"| {name} | {info.error or info.unavailable} |")
                continue
            found = " | ".join("yes" if info.capabilities.get(c) else "no" for c in CAPABILITIES)
            rows.append(f"| {info.name} {info.version} | {found} |")
            if not info.capabilities.get("metering"):
                differs = probes.metering(info.client, f"{settings.table_prefix}-probe-metered")
                notes += [f"- {info.name}: {w}: {d}" for w, d in differs.items() if d]
        finally:
            registry.release_all(settings)
    if notes:
        rows += ["", "Metering unlike DynamoDB's rules, each kind of request probed:", *notes]
    return "\n".join(rows)


def engine_name(text: str) -> str:
    """An engine to probe: a local one by name, or container:IMAGE."""
    local = [n for n in registry.ENGINES if n not in ("endpoint", "aws", "container")]
    if text in local or (text.startswith("container:") and len(text) > len("container:")):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: one of {', '.join(local)}, or container:IMAGE")


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


def build_images(names: list[str], cache_dir: Path, base: str) -> int:
    from ddbspec.engines import images
    from ddbspec.errors import DdbSpecError

    unknown = sorted(set(names) - set(images.IMAGES))
    if unknown:
        print(f"ddbspec images build: no image {unknown}; the images: {', '.join(images.IMAGES)}")
        return 2
    try:
        states = images.build(names, cache_dir, base)
    except DdbSpecError as error:
        print(f"ddbspec images build: {error}")
        return 1
    print("\n".join(f"{ref}: {state}" for ref, state in states.items()))
    return 0


def gateway(argv: list[str]) -> int:
    from ddbspec.capacity import gateway

    return gateway.main(argv)


def mock_aws(argv: list[str]) -> int:
    from ddbspec.aws import mock

    return mock.main(argv)


def emulate_aws(argv: list[str]) -> int:
    from ddbspec.aws import emulate

    return emulate.main(argv)


def matrix(argv: list[str]) -> int:
    from ddbspec.matrix import command

    return command.main(argv)


def bench(argv: list[str]) -> int:
    from ddbspec.bench import compare, engines, feedback

    if argv[:1] == ["engines"]:
        return engines.main(argv[1:])
    if argv[:1] == ["feedback"]:
        return feedback.main(argv[1:])
    return compare.main(argv)


# Commands whose arguments their own parsers read (mock-aws passes what it does not know to
# pytest), with the line --help shows for each.
PROGRAMS = {
    "gateway": (gateway, "DynamoDB's provisioned throughput in front of an engine"),
    "mock-aws": (mock_aws, "pytest --aws against moto's in-process mock, with faults"),
    "emulate-aws": (emulate_aws, "pytest --aws against ministack, an emulator of AWS"),
    "bench": (bench, "saved benchmark runs compared by their ratios, drawn, gated"),
    "matrix": (matrix, "which engine gets which pattern right: every spec on every engine"),
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
    probe.add_argument("engines", nargs="*", default=list(registry.POOL), type=engine_name)
    swept = commands.add_parser("sweep-aws", help="delete what killed runs left in AWS")
    swept.add_argument("--region")
    swept.add_argument("--prefix", default="ddbspec")
    swept.add_argument("--yes", action="store_true", help="delete them (default: only list)")
    images = commands.add_parser("images", help="build the suite's Docker images")
    images.add_argument("action", choices=["build"])
    images.add_argument(
        "names", nargs="*", metavar="IMAGE", help="dynalite, moto, ministack, gateway, suite"
    )
    images.add_argument("--cache-dir", type=Path, default=Settings().cache_dir)
    images.add_argument(
        "--base",
        choices=["auto", "official", "local"],
        default="auto",
        help="the images' bases: the official slim images, one made here with debootstrap "
        "(no registry needed), or auto: official if a registry answers (default)",
    )
    for name, (_, line) in PROGRAMS.items():
        commands.add_parser(name, help=f"{line} (ddbspec {name} --help)")
    args = parser.parse_args(argv)
    if args.command == "sweep-aws":
        return sweep_aws(args.region, args.prefix, args.yes)
    if args.command == "images":
        return build_images(args.names, args.cache_dir, args.base)
    print(capabilities(args.engines))
    return 0
