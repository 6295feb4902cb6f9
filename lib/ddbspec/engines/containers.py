"""DynamoDB-compatible images, run through testcontainers on the host's network.

A preset is data: the image, its command (``{port}`` is a free port on 127.0.0.1 where it
listens) and how long it may take to answer. Any other image runs with its own command and
``--container-port``, the port it listens on. Each container is labelled with the run's id,
and a guard process (``engines.reaper`` under ``engines.guard``) removes it when the run
ends, Ctrl-C and kill -9 included: the suite's own reaper, in place of testcontainers' Ryuk,
whose port mapping a host-network run cannot use.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, replace
from typing import Any

from ddbspec import waiting
from ddbspec.config import Settings
from ddbspec.engines import images, processes
from ddbspec.engines.base import Engine, answers
from ddbspec.engines.info import EngineInfo
from ddbspec.errors import EngineError

RUN_LABEL = "ddbspec.run"
ENGINE_LABEL = "ddbspec.engine"
STATES = ("--createTableMs", "20", "--deleteTableMs", "20", "--updateTableMs", "20")


@dataclass(frozen=True)
class Preset:
    image: str
    command: tuple[str, ...] = ()  # () runs the image's own command
    how: str = "docker pull it, or docker load -i a saved copy"  # to get the image here
    pull: bool = True  # False: the suite never fetches it (built here, or under its vendor's terms)


PRESETS = {
    "dynamodb-local": Preset(
        "amazon/dynamodb-local:2.6.1",
        ("-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb", "-port", "{port}"),
        "pull it where Docker Hub answers (docker pull amazon/dynamodb-local:2.6.1), or "
        "docker load -i a saved copy. The suite does not fetch it for you: it is Amazon's, "
        "under Amazon's terms",
        pull=False,
    ),
    "dynalite": Preset(
        images.IMAGES["dynalite"].ref,
        ("--host", processes.HOST, "--port", "{port}", *STATES),
        "build it: ddbspec images build dynalite",
        pull=False,
    ),
    "moto": Preset(
        images.IMAGES["moto"].ref,
        (processes.HOST, "{port}"),
        "build it: ddbspec images build moto",
        pull=False,
    ),
    "ministack": Preset(  # its image's entrypoint is env: the settings, then the command
        images.IMAGES["ministack"].ref,
        (
            f"BIND_HOST={processes.HOST}",
            "GATEWAY_PORT={port}",
            f"AWS_ENDPOINT_URL=http://{processes.HOST}:{{port}}",
            "LOG_LEVEL=WARNING",
            "python",
            "-m",
            "ministack",
        ),
        "build it: ddbspec images build ministack",
        pull=False,
    ),
}


def docker_client(timeout: float = 10) -> Any:
    import docker

    return docker.from_env(timeout=timeout)  # type: ignore[attr-defined]  # exported lazily


def socket_of() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker_unavailable() -> str | None:
    """Why Docker cannot be used here, or None when its daemon answers."""
    socket = socket_of()
    path = socket.removeprefix("unix://")
    try:
        docker_client(timeout=3).ping()
    except Exception as error:  # the SDK raises several kinds; all mean the same here
        state = (
            f"no Docker daemon socket at {path}"
            if socket.startswith("unix://") and not os.path.exists(path)
            else f"the Docker daemon at {socket} does not answer ({type(error).__name__})"
        )
        return (
            f"Docker is not available: {state}. The container engines run in Docker: start "
            "its daemon (dockerd), or run an engine yourself and pass --endpoint-url URL"
        )
    return None


def preset_of(settings: Settings) -> tuple[str, Preset]:
    """The preset --container-image names, or the image itself with its own command."""
    name = settings.container_image or ""
    return name, PRESETS.get(name) or Preset(name)


def image_id(client: Any, name: str, preset: Preset) -> str:
    """The image's id, pulling it if it is not here; a clear error if neither works."""
    import docker

    try:
        return client.images.get(preset.image).id
    except docker.errors.ImageNotFound:
        if not preset.pull:
            raise EngineError(f"image {preset.image} ({name}) is not here. {preset.how}.") from None
    try:
        return client.images.pull(preset.image).id
    except docker.errors.APIError as error:
        why = str(error.explanation or error).split(": ")[-1]
        raise EngineError(
            f"image {preset.image} ({name}) is not here and cannot be pulled: the registry "
            f"is unreachable ({why}). To have it: {preset.how}."
        ) from None


class Container(Engine):
    """An image from ``--container-image`` (or the preset the engine's name fixes)."""

    def __init__(self, name: str = "container", preset: str | None = None) -> None:
        self.name, self.preset = name, preset  # type: ignore[misc]

    def version(self) -> str:
        return self.preset or "image"

    def settings_for(self, settings: Settings) -> Settings:
        """The run's settings, with the image this engine's name fixes (dynamodb-local)."""
        return settings if self.preset is None else replace(settings, container_image=self.preset)

    def describe(self, settings: Settings) -> str:
        """The image and its id, for the header (``not here`` before it is built or pulled)."""
        _, preset = preset_of(self.settings_for(settings))
        here = "not here"
        with contextlib.suppress(Exception):  # no daemon, or no such image
            here = docker_client(3).images.get(preset.image).short_id.removeprefix("sha256:")
        return f"{self.name} {preset.image} ({here})"

    def check(self, settings: Settings) -> None:
        name, preset = preset_of(self.settings_for(settings))
        if not preset.command and settings.container_port is None:
            raise EngineError(
                f"--container-image {name} is not a preset ({', '.join(PRESETS)}): say which "
                "port it listens on, on the host's network, with --container-port PORT"
            )

    def start(self, settings: Settings) -> EngineInfo:
        reason = docker_unavailable()
        if reason:
            return EngineInfo(name=self.name, version=self.version(), unavailable=reason)
        settings = self.settings_for(settings)
        name, preset = preset_of(settings)
        client = docker_client()
        short = image_id(client, name, preset).removeprefix("sha256:")[:12]
        port = settings.container_port or processes.free_port()
        if processes.port_taken(port):
            raise EngineError(f"{name} cannot start: port {port} on {processes.HOST} is in use.")
        command = [part.replace("{port}", str(port)) for part in preset.command]
        container = run(client, preset.image, command, settings, self.name)
        reaper = guard(container.id, settings, self.name)
        info = EngineInfo(
            name=self.name,
            version=f"{preset.image} ({short})",
            region=settings.region or "us-east-1",
            endpoint_url=f"http://{processes.HOST}:{port}",
            pid=reaper,
            container=container.id,
        )
        try:
            ready(container, info, settings.container_timeout)
            return self._probed(info, settings)
        except BaseException:
            self.stop(info)
            raise

    def stop(self, info: EngineInfo) -> None:
        if info.pid:
            processes.stop(info.pid)  # its reaper removes the container
        if info.container:
            remove(info.container)


def run(client: Any, image: str, command: list[str], settings: Settings, engine: str) -> Any:
    """Start the container through testcontainers, on the host's network, labelled."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer

    testcontainers_config.ryuk_disabled = True  # the suite's reaper removes what it starts
    container = DockerContainer(image).with_kwargs(
        network_mode="host", labels={RUN_LABEL: settings.run_id, ENGINE_LABEL: engine}
    )
    if command:
        container = container.with_command(command)
    try:
        return container.start().get_wrapped_container()
    except Exception as error:
        raise EngineError(f"{image} did not start: {error}") from None


def guard(container: str, settings: Settings, engine: str) -> int:
    """The reaper that removes ``container`` when the run ends or its owner dies."""
    log = settings.state_dir / f"{engine}-reaper.log"
    command = [sys.executable, "-m", "ddbspec.engines.reaper", container]
    return processes.spawn(command, settings.owner_pid, log)


def ready(container: Any, info: EngineInfo, timeout: float, poll: float = 0.2) -> None:
    """Wait until the engine answers DescribeTable; fail at once if the container exits."""
    ddb = info.client(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})

    def answered() -> bool | waiting.Pending:
        container.reload()
        if container.status in ("exited", "dead"):
            raise EngineError(
                f"{info.version} exited at start (exit {container.attrs['State']['ExitCode']}); "
                f"its last log lines:\n{tail(container)}"
            )
        try:
            return answers(ddb) or waiting.Pending("no answer yet")
        except Exception as error:  # not listening yet, or not DynamoDB's protocol yet
            return waiting.Pending(f"{type(error).__name__}: {error}")

    try:
        waiting.until(info.version, answered, timeout, poll)
    except waiting.TimedOut as late:
        raise EngineError(
            f"{info.version} did not answer DynamoDB's DescribeTable at {info.endpoint_url} "
            f"within {timeout:g} s (tried every {poll:g} s; last: {late.state}). Check "
            "--container-port (the port the image listens on), or give it longer with "
            f"--container-timeout. Its last log lines:\n{tail(container)}"
        ) from None


def tail(container: Any, lines: int = 15) -> str:
    return container.logs(tail=lines).decode(errors="replace").rstrip() or "(nothing logged)"


def remove(container_id: str) -> None:
    """Stop and remove the container, whichever process started it; gone already is fine."""
    import docker

    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        docker_client().containers.get(container_id).remove(force=True)


def labelled(run_id: str) -> list[str]:
    """The ids of the containers of run ``run_id`` (what a killed run could leave)."""
    found = docker_client().containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
    return [c.id for c in found]
