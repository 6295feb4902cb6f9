"""ministack (PyPI, MIT): one Python process that emulates DynamoDB, its Streams, Lambda, IAM,
STS, CloudWatch and its Logs. Provisioned from the shipped pins (``pip/ministack.txt``) into
a virtualenv of its own in the cache, so that its pin of botocore never meets the suite's
boto3; that virtualenv also has boto3, for the Lambda functions ministack runs with it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from ddbspec.config import Settings
from ddbspec.engines import processes
from ddbspec.engines.base import Engine
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineError

PINS = Path(__file__).parent / "pip" / "ministack.txt"
DONE = ".ddbspec-installed"  # written last: a folder without it is half-installed


def pinned(name: str) -> str:
    """The version the pins file gives ``name``."""
    for line in PINS.read_text().splitlines():
        package, _, version = line.partition("==")
        if package.strip().lower() == name:
            return version.strip()
    raise EngineError(f"{PINS} pins no {name}: restore the file from the project")


class Ministack(Engine):
    """ministack: streams, transactions and online GSIs, and the AWS services --aws uses."""

    name = "ministack"

    def version(self) -> str:
        return pinned("ministack")

    def start(self, settings: Settings) -> EngineInfo:
        home = self.provision(settings.cache_dir)
        scratch = settings.state_dir / "ministack"  # its pid file and functions' code
        scratch.mkdir(parents=True, exist_ok=True)
        env = {
            "BIND_HOST": processes.HOST,
            "GATEWAY_PORT": "{port}",
            "AWS_ENDPOINT_URL": f"http://{processes.HOST}:{{port}}",  # what functions call
            "MINISTACK_REGION": settings.region or "us-east-1",
            "LOG_LEVEL": "WARNING",  # a line per request otherwise, written while tests wait
            "TMPDIR": str(scratch),
        }
        return self._process(settings, [str(home / "bin" / "python"), "-m", "ministack"], env=env)

    def probe_key(self) -> str:
        return self.build()

    def build(self) -> str:
        """What an install is: the pins and this Python, digested; its folder is named by it."""
        version = f"{sys.version_info.major}.{sys.version_info.minor}".encode()
        return hashlib.sha256(PINS.read_bytes() + version).hexdigest()[:12]

    def provision(self, cache_dir: Path) -> Path:
        """Make the virtualenv and pip-install the pins into it, once; returns the folder."""
        home = cache_dir / f"ministack-{self.build()}"
        if (home / DONE).exists():
            return home
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(home) + ".lock"):
            if (home / DONE).exists():
                return home
            shutil.rmtree(home, ignore_errors=True)  # what an interrupted install left
            try:
                _install(home)
            except BaseException:
                shutil.rmtree(home, ignore_errors=True)  # never half-installed
                raise
            (home / DONE).write_text(self.version())
        return home


def _install(home: Path) -> None:
    """A virtualenv without pip of its own (seeding one costs seconds); the suite's pip
    installs into it, as it builds the images' wheels (``engines.images``)."""
    pip = [sys.executable, "-m", "pip", "--python", str(home / "bin" / "python"), "install"]
    steps = [
        [sys.executable, "-m", "venv", "--without-pip", str(home)],
        [*pip, "--quiet", "--no-deps", "--disable-pip-version-check", "-r", str(PINS)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EngineError(
                f"could not install ministack into {home} ({' '.join(step[:6])}... exit "
                f"{done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}\nCheck that PyPI "
                "is reachable, or choose another engine with --engine moto."
            )
