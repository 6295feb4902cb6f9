"""DynamoDB Local in Docker through testcontainers: started once per run, removed at its end."""

from __future__ import annotations

import contextlib

from ddbspec.config import Settings
from ddbspec.engines.base import Engine, EngineInfo
from ddbspec.errors import EngineError

IMAGE = "amazon/dynamodb-local"
TAG = "2.6.1"  # docker/compose.yaml runs the same image and command
PORT = 8000
COMMAND = "-jar DynamoDBLocal.jar -inMemory -sharedDb"  # in memory, one database for all clients
READY_LOG = "Initializing DynamoDB Local"


def start_dynamodb_local(settings: Settings, tag: str) -> EngineInfo:
    """Run the image in memory with a shared database, wait until it answers ListTables."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = (
        DockerContainer(f"{IMAGE}:{tag}")
        .with_command(COMMAND)
        .with_exposed_ports(PORT)
        .with_kwargs(labels={"ddbspec.run": settings.run_id})
    )
    container.start()
    try:
        wait_for_logs(container, READY_LOG, timeout=60)
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(PORT)}"
        info = EngineInfo(
            name="dynamodb-local",
            version=tag,
            endpoint_url=url,
            region=settings.region or "us-east-1",
            container=container.get_wrapped_container().id,
        )
        _wait_list_tables(info)
        return info
    except Exception as error:
        container.stop()
        raise EngineError(f"DynamoDB Local did not become ready: {error}") from None


def _wait_list_tables(info: EngineInfo, timeout: float = 30.0) -> None:
    import time

    ddb = info.client(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1})
    deadline = time.monotonic() + timeout
    while True:
        try:
            ddb.list_tables(Limit=1)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def remove(container_id: str) -> None:
    """Stop and remove the container, whichever xdist worker started it."""
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        docker.from_env(timeout=10).containers.get(container_id).remove(force=True)


class DynamoDBLocal(Engine):
    """Amazon's DynamoDB Local in Docker, through testcontainers (in memory, shared db)."""

    name = "dynamodb-local"

    def version(self) -> str:
        return TAG

    def start(self, settings: Settings) -> EngineInfo:
        reason = docker_unavailable()
        if reason:
            return EngineInfo(name=self.name, version=self.version(), unavailable=reason)
        return self._probed(start_dynamodb_local(settings, self.version()), settings)

    def stop(self, info: EngineInfo) -> None:
        if info.container:
            remove(info.container)


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
