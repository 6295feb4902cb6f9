"""``ddbspec matrix``: its options, and the order of the work (run, read, write, compare)."""

from __future__ import annotations

import argparse
import datetime
import subprocess
from pathlib import Path

from ddbspec.errors import UsageError
from ddbspec.matrix import compare, write
from ddbspec.matrix.cells import Matrix
from ddbspec.matrix.columns import Column, check, default
from ddbspec.matrix.runs import ROOT, Runs, jobs_here, matrix
from ddbspec.sigterm import TermAsInterrupt

FAILING = ("wrong", "error")  # what --check fails on
USAGE = "%(prog)s [ENGINE ...] [--endpoint NAME=URL] [--scale N] [-k EXPR] [--out DIR]"


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, usage=USAGE, description="Which engine gets which DynamoDB pattern right."
    )
    p.add_argument(
        "engines",
        nargs="*",
        metavar="ENGINE",
        help="dynalite, dynalite-npm, moto, ministack, container:PRESET, aws (default: every "
        "local engine, and each container preset whose image is here when Docker answers)",
    )
    p.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a column for an endpoint you run (DynamoDB Local, LocalStack, ...)",
    )
    p.add_argument("--scale", help="passed to pytest: copies of the log rows (1..1000, full)")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="passed to pytest: which specs")
    p.add_argument("--out", type=Path, default=Path("matrix"), help="where to write (./matrix)")
    p.add_argument(
        "--jobs",
        type=int,
        default=jobs_here(),
        help=f"engines run side by side (default {jobs_here()}: one per two cores)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a cell is wrong or an error (for CI; cannot run is a named gap)",
    )
    p.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD", "NEW"),
        help="say what changed between two matrix.json files, and stop",
    )
    return p


def main(argv: list[str], prog: str = "ddbspec matrix") -> int:
    args = parser(prog).parse_args(argv)
    if args.compare:
        return _compare(*args.compare)
    try:
        columns, left_out = _columns(args.engines, args.endpoint)
    except UsageError as error:
        parser(prog).error(str(error))
    extra = [
        *(["--scale", args.scale] if args.scale else []),
        *(["-k", args.keyword] if args.keyword else []),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"ddbspec matrix: {len(columns)} engines, {args.jobs} at a time; reports in {args.out}")
    for line in left_out:
        print(f"  not run: {line}")
    runs = Runs(args.out.resolve(), extra, lambda line: print(f"  {line}", flush=True))
    sigterm = TermAsInterrupt()  # a cancelled CI job stops the runs as Ctrl-C does
    sigterm.install()
    try:
        made = matrix(runs.all(columns, args.jobs))
    except KeyboardInterrupt:
        print("ddbspec matrix: interrupted; every run stopped, its engines with it", flush=True)
        return 130
    finally:
        sigterm.restore()
    made.about = _about(args, left_out, made)
    print()
    print(write.terminal(made))
    (args.out / "matrix.md").write_text(write.markdown(made))
    written = [args.out / "matrix.md", write.save_json(made, args.out / "matrix.json")]
    written.append(write.png(made, args.out / "matrix.png"))
    print("\nwritten: " + ", ".join(str(p) for p in written))
    failing = [c for row in made.cells.values() for c in row.values() if c.verdict in FAILING]
    return 1 if args.check and failing else 0


def _columns(names: list[str], endpoints: list[str]) -> tuple[list[Column], list[str]]:
    """The columns asked for, or every one that can run here; and what was left out, why."""
    left_out: list[str] = []
    if names:
        columns = [Column.named(n) for n in names]
    elif endpoints:
        columns = []
    else:
        columns, left_out = default()
    columns += [Column.endpoint(e) for e in endpoints]
    check(columns)
    return columns, left_out


def _about(args: argparse.Namespace, left_out: list[str], made: Matrix) -> dict:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {
        "made": now.isoformat(),
        "commit": _commit(),
        "scale": next((e["scale"] for e in made.engines.values() if e.get("scale")), args.scale),
        "k": args.keyword,
        "left_out": left_out,
    }


def _commit() -> str:
    """The checkout's commit, marked when it has changes of its own."""

    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (
        " (with changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def _compare(old: Path, new: Path) -> int:
    """Exit 1 when something changed, as diff does."""
    for path in (old, new):
        if not path.is_file():
            raise SystemExit(f"ddbspec matrix --compare: {path} is not a file")
    lines = compare.changes(write.load_json(old), write.load_json(new))
    print("\n".join(lines) if lines else "the two matrices agree")
    return 1 if lines else 0
