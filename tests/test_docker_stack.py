"""The Docker runner: compose subset, image build, health, a real session, labels, cleanup, reaper.

The parsing tests need nothing. The rest need a Docker Engine (skipped, with the reason,
only when none answers) and a base image (python:3.11-slim, or realtime-qa/base:bookworm
from scripts/build-base-image.sh); a missing base is a failure that says how to make one.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fixtures.compose_file import COMPOSE_FILE, interpolate, load_compose
from fixtures.docker_engine import docker_available, docker_client
from fixtures.docker_reaper import LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_RUN_ID, LABEL_STARTED, reap_leftovers
from fixtures.docker_stack import DockerStack
from fixtures.errors import DockerStackError, PortTaken
from fixtures.stack_registry import use_stack

SERVICES = ("realtime-sim", "app", "frontend")
EMAIL, PASSWORD = "betty@123.com", "Betty@123.com"

docker_tests = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


# -- compose subset (no Docker needed) ---------------------------------------------------------
def test_interpolation_follows_compose_rules():
    variables = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d}/${UNSET:-d}/${EMPTY:-d}/${EMPTY-d}", variables) == "x/d/d/"
    assert interpolate("$SET ${SET} $$SET ${UNSET}", variables) == "x x $SET "
    assert interpolate("${UNSET:-${SET}}-${UNSET:-${ALSO_UNSET:-z}}", variables) == "x-z"
    assert interpolate("cost: 5$ ${SET}", variables) == "cost: 5$ x"
    assert interpolate("${SET:+alt}${EMPTY:+alt}", variables) == "alt"
    with pytest.raises(DockerStackError, match="REQUIRED"):
        interpolate("${REQUIRED:?set it}", variables)


def test_compose_file_is_realised_with_chosen_ports():
    variables = {"APP_PORT": "18080", "FRONTEND_PORT": "13000", "SIM_PORT": "18090", "SIM_API_KEY": "k"}
    services = load_compose(COMPOSE_FILE, variables)
    assert {name for name, spec in services.items() if not spec.profiles} == set(SERVICES)
    assert {name for name, spec in services.items() if spec.profiles} == {"locust-master", "locust-worker"}
    app = services["app"]
    assert [(p.host_ip, p.host_port, p.container_port) for p in app.ports] == [("127.0.0.1", 18080, 8080)]
    assert app.environment["AZURE_OPENAI_REALTIME_ENDPOINT"] == "http://realtime-sim:8090"
    assert app.environment["AZURE_OPENAI_REALTIME_API_KEY"] == "k"
    assert app.environment["ALLOWED_ORIGINS"] == "http://localhost:13000,http://127.0.0.1:13000"
    assert app.environment["ENGINE_CONCURRENCY_LIMIT"] == "8"
    assert app.depends_on == {"realtime-sim": "service_healthy"}
    assert services["frontend"].environment["APP_PORT"] == "18080"  # the browser's view of the app
    assert services["frontend"].depends_on == {"app": "service_healthy"}
    assert services["realtime-sim"].environment["SIM_API_KEY"] == "k"
    for spec in (services[name] for name in SERVICES):
        assert spec.image == "realtime-qa/stack:local"
        assert spec.healthcheck is not None
        assert all(p.host_ip == "127.0.0.1" for p in spec.ports)
    # One build for the one image: the first service to start builds it, the others reuse it.
    builders = [name for name, spec in services.items() if spec.build is not None]
    assert builders == ["realtime-sim", "locust-master"]  # the load profile's image: only with --profile load
    assert services["realtime-sim"].build["dockerfile"] == "stack/Dockerfile"


def test_compose_defaults_without_variables():
    services = load_compose(COMPOSE_FILE, {})
    assert services["app"].ports[0].host_port == 8080
    assert services["frontend"].ports[0].host_port == 3000
    assert services["realtime-sim"].ports[0].host_port == 8090
    assert services["realtime-sim"].build["args"]["BASE_IMAGE"] == "python:3.11-slim"
    assert services["app"].environment["AZURE_OPENAI_REALTIME_API_KEY"] == "local-sim-key"


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_docker_compose_builds_the_stack_image_once(client):
    """What a human's `docker-compose up --build` does first: one build, not one per service."""
    compose = next((c for c in (["docker-compose"], ["docker", "compose"]) if _runs([*c, "version"])), None)
    if compose is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    base = next(b for b in ("python:3.11-slim", "realtime-qa/base:bookworm") if _has_image(client, b))
    result = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "-p", f"realtime-qa-build-{os.getpid()}", "build"],
        env={**os.environ, "BASE_IMAGE": base},
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    steps = [line for line in output.splitlines() if line.startswith("Step 1/")]
    assert len(steps) == 1, f"{len(steps)} image builds:\n{output[-3000:]}"


def _runs(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _has_image(client, name: str) -> bool:
    try:
        client.images.get(name)
    except Exception:
        return False
    return True


def test_unknown_compose_keys_are_refused(tmp_path: Path):
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  x:\n    image: a\n    privileged: true\n")
    with pytest.raises(DockerStackError, match="privileged"):
        load_compose(path, {})


# -- Docker ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    ok, why = docker_available()
    if not ok:
        pytest.skip(why)
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def module_stack(client):
    with DockerStack(client=client, env={"ENGINE_CONCURRENCY_LIMIT": "3"}) as running:
        print(f"docker stack timings: {json.dumps({k: round(v, 2) for k, v in running.timings.items()})}")
        yield running


@pytest.fixture
def stack(module_stack: DockerStack, request: pytest.FixtureRequest) -> DockerStack:
    """The module's Docker stack, registered for the report like every other kind."""
    return use_stack(request, module_stack)


def _labelled(client, run_id: str):
    flt = {"label": f"{LABEL_RUN_ID}={run_id}"}
    return client.containers.list(all=True, filters=flt), client.networks.list(filters=flt)


@pytest.mark.usefixtures("stack")
class TestRunningStack:
    pytestmark = docker_tests

    def test_containers_are_healthy_and_labelled(self, client, stack: DockerStack):
        containers, networks = _labelled(client, stack.run_id)
        assert sorted(c.labels["com.docker.compose.service"] for c in containers) == sorted(SERVICES)
        for container in containers:
            container.reload()
            assert container.attrs["State"]["Health"]["Status"] == "healthy", container.name
            labels = container.labels
            assert labels["com.docker.compose.project"] == stack.project
            assert labels[LABEL_OWNER_PID] == str(os.getpid())
            assert labels["realtime-qa.stack"] == "reference"  # the compose file's own labels
            # published on loopback only (the image EXPOSEs all three ports; one is published)
            published = [b for bs in container.attrs["NetworkSettings"]["Ports"].values() if bs for b in bs]
            assert published, container.name
            assert {b["HostIp"] for b in published} == {"127.0.0.1"}
        assert [n.name for n in networks] == [stack.network_name]
        assert networks[0].attrs["Labels"]["com.docker.compose.project"] == stack.project

    def test_image_is_labelled_and_runs_unprivileged(self, client, stack: DockerStack):
        image = client.images.get("realtime-qa/stack:local")
        assert image.labels["realtime-qa.image"] == "realtime-qa/stack:local"
        assert image.labels["realtime-qa.base-image"] in ("python:3.11-slim", "realtime-qa/base:bookworm")
        uid = stack.container("app").exec_run(["id", "-u"]).output.decode().strip()
        assert uid == "10001"

    def test_app_health_answers_on_published_port(self, stack: DockerStack):
        response = httpx.get(f"{stack.app_url}/health", timeout=5)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert httpx.get(f"{stack.sim_url}/health", timeout=5).status_code == 200
        assert httpx.get(f"{stack.frontend_url}/healthz", timeout=5).status_code == 200

    def test_env_from_compose_reaches_the_containers(self, stack: DockerStack):
        # ENGINE_CONCURRENCY_LIMIT came in through ${ENGINE_CONCURRENCY_LIMIT:-8}
        health = httpx.get(f"{stack.app_url}/health", timeout=5).json()
        assert health["components"]["engine_pool"]["limit"] == 3
        # the frontend tells the browser the app's *published* port
        config = httpx.get(f"{stack.frontend_url}/config.js", timeout=5).text
        assert f'"appPort": {stack.app_port}' in config

    def test_login_and_realtime_session_through_the_containers(self, stack: DockerStack):
        response = httpx.post(
            f"{stack.app_url}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        # Origin = the published frontend: ALLOWED_ORIGINS was interpolated with its host port.
        with connect(
            f"{stack.ws_url}?token={token}", origin=stack.frontend_url, open_timeout=10, close_timeout=5
        ) as ws:
            first = json.loads(ws.recv(timeout=10))
            assert first["type"] == "session.created", first
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{stack.ws_url}?token={token}", origin="http://evil.example", open_timeout=10)
        assert refused.value.response.status_code == 403

    def test_logs_are_readable(self, stack: DockerStack):
        assert "Uvicorn running" in stack.logs("app") or "app ready" in stack.logs("app")
        assert len(stack.log_tail("realtime-sim", 3).splitlines()) <= 3

    def test_cut_upstream_cuts_only_the_sim(self, stack: DockerStack):
        resolve = ["python", "-c", "import socket; socket.gethostbyname('realtime-sim')"]
        assert stack.container("app").exec_run(resolve).exit_code == 0
        stack.cut_upstream()
        try:
            assert stack.container("app").exec_run(resolve).exit_code != 0
            assert httpx.get(f"{stack.app_url}/health", timeout=5).status_code == 200  # app still served
        finally:
            stack.restore_upstream()
        assert stack.container("app").exec_run(resolve).exit_code == 0
        deadline = time.monotonic() + 10
        while httpx.get(f"{stack.sim_url}/health", timeout=5).status_code != 200:  # published port back
            assert time.monotonic() < deadline, "sim's published port did not come back after reconnect"
            time.sleep(0.2)

    def test_kill_then_restart_brings_a_service_back(self, stack: DockerStack):
        stack.kill("realtime-sim")
        assert stack.container("realtime-sim").attrs["State"]["Status"] == "exited"
        stack.restart("realtime-sim", timeout_s=60)
        assert httpx.get(f"{stack.sim_url}/health", timeout=5).status_code == 200

    def test_pause_freezes_and_resume_thaws(self, stack: DockerStack):
        stack.pause("frontend")
        try:
            with pytest.raises(httpx.TimeoutException):
                httpx.get(f"{stack.frontend_url}/healthz", timeout=1.5)
        finally:
            stack.unpause("frontend")
        assert httpx.get(f"{stack.frontend_url}/healthz", timeout=5).status_code == 200


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_stop_leaves_no_container_or_network(client):
    running = DockerStack(client=client, services=["realtime-sim"])
    with running:
        containers, networks = _labelled(client, running.run_id)
        assert len(containers) == 1
        assert len(networks) == 1
        running.pause("realtime-sim")  # a paused container must not block teardown
    containers, networks = _labelled(client, running.run_id)
    assert containers == []
    assert networks == []
    assert running.logs("realtime-sim").strip()  # the output outlives the container


def test_taken_port_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {port} .*already in use.*SIM_PORT"):
            DockerStack(services=["realtime-sim"], sim_port=port)


def test_ports_of_services_not_started_are_not_checked():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        subset = DockerStack(services=["realtime-sim"], app_port=port, frontend_port=port)
        assert subset.services == ("realtime-sim",)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_reaper_removes_runs_whose_owner_is_gone_and_keeps_live_ones(client, stack: DockerStack):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    time.sleep(0.2)
    now = time.time()
    host = socket.gethostname()
    owners = {
        "dead": {LABEL_OWNER_PID: str(_dead_pid()), LABEL_STARTED: f"{now - 60:.3f}"},
        "live": {LABEL_OWNER_PID: str(sleeper.pid), LABEL_STARTED: f"{now:.3f}"},
        # the pid lives, but its process started long after the run did: a reused pid
        "reused": {LABEL_OWNER_PID: str(sleeper.pid), LABEL_STARTED: f"{now - 3600:.3f}"},
    }
    created = {}
    try:
        for kind, owner in owners.items():
            labels = {LABEL_RUN_ID: f"reaper-test-{kind}-{os.getpid()}", LABEL_OWNER_HOST: host, **owner}
            network = client.networks.create(f"realtime-qa-reaper-{kind}-{os.getpid()}", labels=labels)
            container = client.containers.create(
                "realtime-qa/stack:local",
                command=["python", "-c", "import time; time.sleep(300)"],
                labels=labels,
                network=network.name,
            )
            container.start()
            created[kind] = (container, network)
        removed = reap_leftovers(client)
        assert f"container {created['dead'][0].name}" in removed
        assert f"container {created['reused'][0].name}" in removed
        assert f"network {created['dead'][1].name}" in removed
        live_containers, live_networks = _labelled(client, f"reaper-test-live-{os.getpid()}")
        assert len(live_containers) == 1
        assert len(live_networks) == 1
        for kind in ("dead", "reused"):
            assert _labelled(client, f"reaper-test-{kind}-{os.getpid()}") == ([], [])
        # the stack this process is running is never touched
        assert len(_labelled(client, stack.run_id)[0]) == 3
    finally:
        sleeper.kill()
        sleeper.wait()
        for container, network in created.values():
            with contextlib.suppress(Exception):  # already reaped
                container.remove(force=True)
            with contextlib.suppress(Exception):
                network.remove()
