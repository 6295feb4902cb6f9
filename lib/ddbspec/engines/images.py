"""``ddbspec images build``: every image the suite can run, built from what this machine has.

The images (``docker/Dockerfile``, one target each) are the suite's engines (dynalite, moto,
ministack),
the capacity gateway and the suite itself. Their bases are the official slim images where a
registry answers; where none does, a Debian base made here (debootstrap, then docker import)
with python3 and nodejs. Everything else comes from this machine: the suite's wheels and
ministack's pinned ones (pip wheel) and its dynalite install, so nothing inside a build needs
the network. An image whose
inputs have not changed (its ``ddbspec.inputs`` label) is kept, not rebuilt.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ddbspec.engines.dynalite import Dynalite
from ddbspec.engines.ministack import PINS, Ministack
from ddbspec.errors import EngineError

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "docker" / "Dockerfile"
TAG = "local"
LOCAL_BASE = f"ddbspec/base:bookworm-py{sys.version_info.major}{sys.version_info.minor}"
DEBIAN_PACKAGES = "python3,python3-venv,nodejs,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SUITE_FILES = ("pyproject.toml", "README.md", "conftest.py", "pytest.ini")
SUITE_DIRS = ("lib", "specs", "tests", "data", "docker")
IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")


@dataclass(frozen=True)
class Image:
    target: str  # the Dockerfile's stage
    inputs: tuple[str, ...]  # what, in the context, it is built from

    @property
    def ref(self) -> str:
        return f"ddbspec/{self.target}:{TAG}"


IMAGES = {  # in the Dockerfile's order of stages
    "dynalite": Image("dynalite", ("dynalite",)),
    "ministack": Image("ministack", ("ministack",)),
    "moto": Image("moto", ("wheels",)),
    "gateway": Image("gateway", ("wheels",)),
    "suite": Image("suite", ("wheels", "suite", "dynalite")),
}
Say = Callable[[str], None]


def docker(*args: str, say: Say | None = None, stdin: bytes | None = None) -> str:
    """Run the docker CLI; its output goes to ``say`` line by line (a build's progress)."""
    if shutil.which("docker") is None:
        raise EngineError("the docker command is not on the PATH: install Docker's CLI")
    process = subprocess.Popen(
        ["docker", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    lines = []
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        lines.append(line)
        if say and line:
            say(f"  {line}")
    if process.wait() != 0:
        tail = "\n".join(lines[-15:])
        what = " ".join(args[:2])
        raise EngineError(f"docker {what} failed (exit {process.returncode}):\n{tail}")
    return "\n".join(lines)


def label_of(ref: str) -> str | None:
    """The image's ``ddbspec.inputs`` label, or None when there is no such image here."""
    try:
        label = '{{index .Config.Labels "ddbspec.inputs"}}'
        return docker("image", "inspect", "--format", label, ref)
    except EngineError:
        return None


def present(ref: str) -> bool:
    try:
        docker("image", "inspect", "--format", "{{.Id}}", ref)
    except EngineError:
        return False
    return True


def bases(base: str, say: Say) -> dict[str, str]:
    """PYTHON_BASE and NODE_BASE: the official images (``official``; ``auto``: if here or
    pullable), else (``local``) one made here."""
    python = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    official = {"PYTHON_BASE": python, "NODE_BASE": "node:20-slim"}
    if base == "official" or (
        base == "auto" and all(present(ref) or pulled(ref, say) for ref in official.values())
    ):
        return official
    say(f"images: the bases are {LOCAL_BASE}, made here")
    local_base(say)
    return dict.fromkeys(official, LOCAL_BASE)


def pulled(ref: str, say: Say) -> bool:
    try:
        docker("pull", "--quiet", ref)
    except EngineError as error:
        say(f"images: cannot pull {ref} ({str(error).splitlines()[-1]})")
        return False
    return True


def local_base(say: Say) -> None:
    """Debian bookworm, minimal, with python3 and nodejs: debootstrap, then docker import."""
    if present(LOCAL_BASE):
        say(f"images: {LOCAL_BASE} is here")
        return
    if sys.version_info[:2] != (3, 11):
        raise EngineError(
            f"the local base has Debian bookworm's Python 3.11, and the suite's wheels are "
            f"built by this Python {sys.version_info.major}.{sys.version_info.minor}: run "
            "`ddbspec images build` with Python 3.11, or where Docker Hub answers"
        )
    if shutil.which("debootstrap") is None:
        raise EngineError(
            "no registry answers and debootstrap is not installed to make a base image here: "
            "apt-get install debootstrap (as root), or give Docker a registry"
        )
    with tempfile.TemporaryDirectory(prefix="ddbspec-rootfs-") as root:
        say(f"images: debootstrap bookworm ({DEBIAN_PACKAGES}) into {root}, about a minute")
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={DEBIAN_PACKAGES}",
                "bookworm",
                root,
                DEBIAN_MIRROR,
            ]
        )
        tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True)
        docker("import", "-", LOCAL_BASE, stdin=tar.stdout)
    say(f"images: made {LOCAL_BASE}")


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        raise EngineError(f"{command[0]} failed (exit {done.returncode}):\n{output}")


def digest(paths: Iterable[Path]) -> str:
    """The inputs of an image, hashed: every file under ``paths`` (name and bytes)."""
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if any(
                part in ("__pycache__", "build") or part.endswith(".egg-info")
                for part in file.relative_to(REPO).parts
            ):
                continue  # what builds and installs leave in the tree
            h.update(str(file.relative_to(REPO)).encode())
            h.update(file.read_bytes())
    return h.hexdigest()[:16]


def inputs(cache_dir: Path) -> dict[str, str]:
    """A digest for each kind of context input, cheap enough to run before building."""
    suite = [REPO / f for f in SUITE_FILES] + [REPO / d for d in SUITE_DIRS]
    return {
        "dynalite": Dynalite().build(),
        "ministack": Ministack().build(),
        "wheels": digest([REPO / "pyproject.toml", REPO / "lib"]),
        "suite": digest(suite),
        "dockerfile": digest([DOCKERFILE]),
    }


def context(folder: Path, needs: set[str], cache_dir: Path, say: Say) -> None:
    """Assemble the build context: the Dockerfile and what the images to build need."""
    shutil.copy(DOCKERFILE, folder / "Dockerfile")
    if "dynalite" in needs:
        shutil.copytree(Dynalite().provision(cache_dir), folder / "dynalite", symlinks=True)
    if "wheels" in needs:
        say("images: pip wheel the suite and what it needs (from pip's cache where it can)")
        source = folder / "source"  # built from a copy: setuptools writes build/ beside it
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(REPO / name, source / name)
        shutil.copytree(REPO / "lib", source / "lib", ignore=IGNORED)
        python = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir"]
        run([*python, str(folder / "wheels"), f"{source}[dev]", "setuptools>=77"])
    if "ministack" in needs:
        say("images: pip wheel ministack's pins (from pip's cache where it can)")
        wheels = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir"]
        run([*wheels, str(folder / "ministack"), "-r", str(PINS)])
    if "suite" in needs:
        (folder / "suite").mkdir()
        for name in SUITE_FILES:
            shutil.copy(REPO / name, folder / "suite" / name)
        for name in SUITE_DIRS:
            shutil.copytree(REPO / name, folder / "suite" / name, ignore=IGNORED)


def stages_need(images: Iterable[Image]) -> set[str]:
    """What the context must hold to build ``images``: Docker's classic builder also builds
    every stage before a target, so the inputs of every image up to the last one built."""
    order = list(IMAGES.values())
    last = max(order.index(image) for image in images)
    return {i for image in order[: last + 1] for i in image.inputs}


def build(
    names: Iterable[str], cache_dir: Path, base: str = "auto", say: Say = print
) -> dict[str, str]:
    """Build the images named (every one by default) unless up to date; returns what each
    image's state is now ("built" or "up to date")."""
    chosen = [IMAGES[n] for n in names] or list(IMAGES.values())
    digests = inputs(cache_dir)
    stale = {}
    for image in chosen:
        wanted = "-".join(digests[i] for i in (*image.inputs, "dockerfile"))
        if label_of(image.ref) == wanted:
            say(f"images: {image.ref} is up to date")
        else:
            stale[image] = wanted
    if not stale:
        return {image.ref: "up to date" for image in chosen}
    args = bases(base, say)
    with tempfile.TemporaryDirectory(prefix="ddbspec-context-") as folder:
        needs = stages_need(stale)
        context(Path(folder), needs, cache_dir, say)
        for image, wanted in stale.items():
            say(f"images: building {image.ref} (target {image.target})")
            home = f"/root/.cache/ddbspec/node-{digests['dynalite']}"
            build_args = {**args, "DYNALITE_HOME": home}
            docker(
                "build",
                "--network",
                "host",
                "--target",
                image.target,
                "--tag",
                image.ref,
                "--label",
                f"ddbspec.inputs={wanted}",
                *(a for k, v in build_args.items() for a in ("--build-arg", f"{k}={v}")),
                folder,
                say=say,
            )
    return {image.ref: "built" if image in stale else "up to date" for image in chosen}
