"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: it is what
groundcode/deploy.py generates, it parses, every dependency exists, and every groundcode command in it is a
valid command line of this version."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from groundcode.cli import ServiceName
from groundcode.cli import app as cli
from groundcode.deploy import TOPOLOGY, compose_yaml
from groundcode.domain import Stage

COMPOSE = Path(__file__).parent.parent / "docker-compose.yml"


def test_committed_compose_file_is_the_generated_one() -> None:
    # Regenerate with: groundcode deploy compose --output docker-compose.yml
    assert COMPOSE.read_text(encoding="utf-8") == compose_yaml()


def test_scaling_a_worker_group_sets_its_replicas() -> None:
    compose: dict[str, Any] = yaml.safe_load(compose_yaml(TOPOLOGY.scaled({"chunking-worker": 4})))
    assert compose["services"]["chunking-worker"]["deploy"] == {"replicas": 4}
    result = CliRunner().invoke(cli, ["deploy", "compose", "--scale", "no-such-worker=2"])
    assert result.exit_code != 0


def test_compose_services_depend_on_services_that_exist() -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name


def test_every_groundcode_command_in_compose_is_valid() -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    commands = [s["command"] for s in compose["services"].values() if s.get("build") and "command" in s]
    assert len(commands) >= 8
    for command in commands:
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        # --help stops before option values are checked, so check the ones that name stages and services.
        stages = [value for option, value in itertools.pairwise(command) if option == "--stage"]
        assert set(stages) <= {stage.value for stage in Stage}, command
        if command[0] == "service":
            assert command[1] in {name.value for name in ServiceName}, command
    workers = {value for command in commands for value in command if value in {s.value for s in Stage}}
    assert workers == {stage.value for stage in Stage}  # every stage has a worker
