"""The container engines: presets, Docker's faults, and containers that a run never leaves.

The tests that need a Docker daemon and the suite's images (``ddbspec images build``) skip
without them, saying so, except in CI (CI=true), which starts a daemon and builds the images
first: there they must run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from ddbspec import config
from ddbspec.engines import containers, images, registry
from ddbspec.errors import EngineError

from suite import BUSY, REPO, processes_mentioning, run_suite, start_suite, wait_for


def compose(name: str) -> dict:
    import yaml  # docker-compose's format; PyYAML comes with moto

    return yaml.safe_load((REPO / "docker" / name).read_text())["services"]


def with_port(command: tuple[str, ...], port: int) -> list[str]:
    return [part.replace("{port}", str(port)) for part in command]


def test_compose_runs_each_service_as_its_preset_does():
    dynamodb_local = containers.PRESETS["dynamodb-local"]
    service = compose("compose.yaml")["dynamodb-local"]
    assert service["image"] == dynamodb_local.image
    assert service["command"] == with_port(dynamodb_local.command, 8000)
    stand_in = compose("compose.host.yaml")["dynamodb-local"]
    assert stand_in["image"] == containers.PRESETS["dynalite"].image
    assert stand_in["command"] == with_port(containers.PRESETS["dynalite"].command, 8000)
    assert compose("compose.yaml")["gateway"]["image"] == images.IMAGES["gateway"].ref


@pytest.mark.parametrize("name", ["compose.yaml", "compose.host.yaml"])
def test_the_compose_gateway_runs_at_the_services_pace_unless_told(name):
    """GATEWAY_FACTOR speeds the gateway's clock (CI sets 5); unset, compose substitutes 1."""
    command = compose(name)["gateway"]["command"]
    assert command[command.index("--factor") + 1] == "${GATEWAY_FACTOR:-1}"


def test_a_build_context_holds_what_every_stage_before_the_target_needs():
    """Docker's classic builder builds the stages before the target too: building ministack
    alone failed on the dynalite stage's missing folder."""
    assert images.stages_need([images.IMAGES["dynalite"]]) == {"dynalite"}
    assert images.stages_need([images.IMAGES["ministack"]]) == {"dynalite", "ministack"}
    assert images.stages_need([images.IMAGES["suite"]]) == {
        "dynalite",
        "ministack",
        "wheels",
        "suite",
    }


def test_docker_absent_is_reported_quickly_with_its_socket_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    started = time.monotonic()
    reason = containers.docker_unavailable()
    assert time.monotonic() - started < 5
    assert f"no Docker daemon socket at {tmp_path}/absent.sock" in reason
    assert "start its daemon" in reason and "--endpoint-url" in reason


def test_docker_down_is_told_apart_from_absent(monkeypatch, tmp_path):
    path = tmp_path / "docker.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))  # a socket file that nothing listens on: a daemon that died
    dead.close()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    reason = containers.docker_unavailable()
    assert f"the Docker daemon at unix://{path} does not answer" in reason


def test_without_docker_the_engine_is_unavailable_not_failed(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    info = registry.ENGINES["dynamodb-local"].start(config.Settings(state_dir=tmp_path))
    assert info.unavailable and not info.error and info.endpoint_url is None


def test_an_image_of_no_preset_needs_its_port():
    settings = config.Settings(container_image="localstack/localstack:4")
    with pytest.raises(EngineError, match=r"not a preset .*--container-port PORT"):
        registry.ENGINES["container"].check(settings)
    registry.ENGINES["container"].check(config.Settings(container_image="moto"))


@pytest.fixture(scope="module")
def docker_here():
    reason = containers.docker_unavailable()
    missing = [i.ref for i in images.IMAGES.values() if not images.present(i.ref)]
    if reason or missing:
        why = reason or f"the suite's images are not built ({missing}): ddbspec images build"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the container tests: {why}")
        pytest.skip(why)
    return containers.docker_client()


def test_a_preset_the_suite_must_not_fetch_is_never_pulled(docker_here, tmp_path, monkeypatch):
    def no_pull(*args, **kwargs):
        raise AssertionError("pulled")

    monkeypatch.setattr(type(docker_here.images), "pull", no_pull)
    preset = containers.PRESETS["dynamodb-local"]
    if images.present(preset.image):
        pytest.skip(f"{preset.image} is here")
    with pytest.raises(EngineError, match="does not fetch it for you") as raised:
        containers.image_id(docker_here, "dynamodb-local", preset)
    assert f"docker pull {preset.image}" in str(raised.value)


def built_image(client, tag: str, entrypoint: list[str]) -> str:
    """A tiny image on the moto image's base whose process does what ``entrypoint`` says."""
    ref = f"ddbspec-test/{tag}:1"
    dockerfile = f"FROM {images.IMAGES['moto'].ref}\nENTRYPOINT {json.dumps(entrypoint)}\n"
    images.docker(
        "build", "--network", "host", "--quiet", "--tag", ref, "-", stdin=dockerfile.encode()
    )
    return ref


def settings_for(tmp_path: Path, image: str, **more) -> config.Settings:
    return config.Settings(
        engine="container",
        run_id=f"t{os.getpid()}",
        state_dir=tmp_path,
        owner_pid=os.getpid(),
        container_image=image,
        **more,
    )


@pytest.mark.parametrize("preset", ["moto", "ministack"])
def test_a_preset_starts_answers_is_probed_and_leaves_nothing(docker_here, tmp_path, preset):
    settings = settings_for(tmp_path, preset)
    info = registry.acquire(settings, "container")
    try:
        assert info.error is None, info.error
        assert info.version.startswith(images.IMAGES[preset].ref)
        assert info.capabilities["transactions"] and info.capabilities["streams"]
        assert containers.labelled(settings.run_id) == [info.container]
    finally:
        registry.release_all(settings)
    assert containers.labelled(settings.run_id) == []
    assert not processes_mentioning(str(tmp_path))  # the reaper and its guard are gone


def test_an_image_that_is_not_here_and_cannot_be_pulled_says_how_to_get_it(docker_here, tmp_path):
    absent = "127.0.0.1:9/ddbspec-test/absent:1"  # a registry on loopback that refuses
    settings = settings_for(tmp_path, absent, container_port=9)
    with pytest.raises(EngineError) as raised:
        registry.ENGINES["container"].start(settings)
    assert absent in str(raised.value)
    assert "cannot be pulled: the registry is unreachable" in str(raised.value)
    assert "docker load" in str(raised.value)
    assert containers.labelled(settings.run_id) == []


def test_a_container_that_exits_at_start_shows_its_last_lines(docker_here, tmp_path):
    image = built_image(
        docker_here, "exits", ["sh", "-c", "echo cannot read its config >&2; exit 3"]
    )
    settings = settings_for(tmp_path, image, container_port=9)
    with pytest.raises(EngineError, match=r"exited at start \(exit 3\)") as raised:
        registry.ENGINES["container"].start(settings)
    assert "cannot read its config" in str(raised.value)
    assert "did not answer" not in str(raised.value)  # failed at the exit, not at the timeout
    assert containers.labelled(settings.run_id) == []
    assert not processes_mentioning(str(tmp_path))


def test_a_container_that_never_answers_says_what_was_tried(docker_here, tmp_path):
    image = built_image(docker_here, "silent", ["sleep", "600"])
    settings = settings_for(tmp_path, image, container_port=9, container_timeout=2.0)
    with pytest.raises(EngineError) as raised:
        registry.ENGINES["container"].start(settings)
    message = str(raised.value)
    assert "did not answer DynamoDB's DescribeTable at http://127.0.0.1:9 within 2 s" in message
    assert "tried every 0.2 s" in message and "--container-port" in message
    assert containers.labelled(settings.run_id) == []


def started_container(tmp_path: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in tmp_path.glob("ddbspec-run-*/engine-container.json"):
            with_id = json.loads(path.read_text()).get("container")
            if with_id:
                return with_id
        time.sleep(0.2)
    raise AssertionError("no container started")


def gone(container: str, timeout: float = 20) -> bool:
    import docker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            containers.docker_client().containers.get(container)
        except docker.errors.NotFound:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_run_stopped_in_the_middle_leaves_no_container_and_no_process(docker_here, tmp_path, how):
    run = start_suite(
        "specs", "-k", "sparse or composite", "--container-image", "moto", tmp=tmp_path
    )
    container = started_container(tmp_path)
    run.send_signal(how)
    out, _ = run.communicate(timeout=120)
    assert gone(container), f"container {container} left behind:\n{out}"
    assert wait_for(lambda: not processes_mentioning(str(tmp_path)), BUSY), out


def test_every_exercise_on_moto_in_a_container_says_which_image_served_it(docker_here, tmp_path):
    result = run_suite(
        "specs", "-k", "sparse or locking", "--container-image", "moto", tmp=tmp_path
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"on container {images.IMAGES['moto'].ref}" in out
    assert out.count("the suite's guard removes them") == 1  # said once, in the header
