"""The scaled-out topology, described once: ``docker-compose.yml`` is generated from it, and
``groundcode deploy run`` starts it as plain processes on loopback (no Docker needed).

The description names the infrastructure (PostgreSQL, Redis, Chroma), the one-shot migration, the four
service APIs (run with ``--no-workers``: they only publish work) and the stage workers with replica counts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
import yaml

from groundcode.domain import Stage
from groundcode.settings import Settings

COMPOSE_HEADER = """\
# Generated from groundcode/deploy.py by `groundcode deploy compose --output docker-compose.yml`: edit that.
# Scaled-out deployment: PostgreSQL is the source of truth, Redis Streams carries work-item ids between
# stages, each stage runs as its own process and can be scaled (`docker compose up --scale
# chunking-worker=4`, or `groundcode deploy compose --scale chunking-worker=4`).
# Docker does not run on the development machines; `groundcode deploy run` starts the same topology as plain
# processes on loopback (see README "Scaling out").
# The suggestion workers use the offline backend by default; set GROUNDCODE_SUGGESTION_BACKEND=llm and
# GROUNDCODE_LLM_MODEL (plus the provider's key from a secrets file) for an LLM. Remote providers also need
# GROUNDCODE_LLM_ALLOW_REMOTE=true.
"""
CONTAINER_PORT = 8000
POSTGRES_URL = "postgresql+psycopg://groundcode:groundcode@postgres:5432/groundcode"


@dataclass(frozen=True)
class Api:
    """One service's HTTP API (``groundcode service NAME --no-workers``) and its published port."""

    service: str  # a groundcode.cli.ServiceName value
    port: int

    @property
    def name(self) -> str:
        return f"{self.service}-api"

    def command(self, host: str, port: int) -> list[str]:
        return ["service", self.service, "--host", host, "--port", str(port), "--no-workers"]


@dataclass(frozen=True)
class Workers:
    """``replicas`` processes of ``groundcode worker`` for ``stages``."""

    name: str
    stages: tuple[Stage, ...]
    replicas: int = 1

    def command(self) -> list[str]:
        return ["worker", *(part for stage in self.stages for part in ("--stage", stage.value))]


@dataclass(frozen=True)
class Topology:
    apis: tuple[Api, ...]
    workers: tuple[Workers, ...]

    def scaled(self, replicas: Mapping[str, int]) -> Topology:
        """This topology with other replica counts for the named worker groups."""
        unknown = set(replicas) - {group.name for group in self.workers}
        if unknown:
            raise ValueError(f"no such worker group: {', '.join(sorted(unknown))}")
        return replace(
            self,
            workers=tuple(replace(g, replicas=replicas.get(g.name, g.replicas)) for g in self.workers),
        )


TOPOLOGY = Topology(
    apis=(
        Api("chunking", 8000),
        Api("retrieval", 8001),
        Api("suggestion", 8002),
        Api("adjudication", 8003),  # the review page and the decision API
    ),
    workers=(
        Workers("chunking-worker", (Stage.CHUNK,)),
        Workers("retrieval-worker", (Stage.INDEX, Stage.INDEX_CODEBOOK)),
        Workers("suggestion-worker", (Stage.SUGGEST, Stage.RERANK)),
        Workers("learn-worker", (Stage.LEARN,)),  # decisions -> exemplars
    ),
)


# --- docker-compose.yml -------------------------------------------------------------------------------


def _healthcheck(test: list[str], interval: str) -> dict[str, Any]:
    return {"test": ["CMD", *test], "interval": interval, "retries": 10}


def _http_check(path: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{CONTAINER_PORT}{path}"
    return _healthcheck(["python", "-c", f"import urllib.request; urllib.request.urlopen('{url}')"], "10s")


def compose_document(topology: Topology = TOPOLOGY) -> dict[str, Any]:
    """The docker compose document of ``topology``."""
    groundcode: dict[str, Any] = {
        "build": ".",
        "environment": {
            "DATABASE_URL": POSTGRES_URL,
            "GROUNDCODE_QUEUE": "redis",
            "GROUNDCODE_REDIS_URL": "redis://redis:6379/0",
            "GROUNDCODE_CHROMA_HOST": "chroma",
            "GROUNDCODE_CHROMA_PORT": str(CONTAINER_PORT),
        },
        "depends_on": {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
            "chroma": {"condition": "service_started"},
        },
    }
    services: dict[str, Any] = {
        "postgres": {
            "image": "postgres:15",
            "environment": {
                "POSTGRES_USER": "groundcode",
                "POSTGRES_PASSWORD": "groundcode",
                "POSTGRES_DB": "groundcode",
            },
            "volumes": ["postgres-data:/var/lib/postgresql/data"],
            "healthcheck": _healthcheck(["pg_isready", "-U", "groundcode"], "5s"),
        },
        "redis": {
            "image": "redis:7",
            "command": ["redis-server", "--appendonly", "yes"],
            "volumes": ["redis-data:/data"],
            "healthcheck": _healthcheck(["redis-cli", "ping"], "5s"),
        },
        "chroma": {"image": "chromadb/chroma:1.5.9", "volumes": ["chroma-data:/data"]},
        "migrate": {
            "build": ".",
            "command": ["init"],
            "environment": {"DATABASE_URL": POSTGRES_URL},
            "depends_on": {"postgres": {"condition": "service_healthy"}},
        },
    }
    for api in topology.apis:
        services[api.name] = {
            **groundcode,
            # In its container a service listens on every interface; only the port mapping publishes it.
            "command": api.command("0.0.0.0", CONTAINER_PORT),  # nosec B104
            "ports": [f"{api.port}:{CONTAINER_PORT}"],
            "healthcheck": _http_check("/ready"),
        }
    for group in topology.workers:
        services[group.name] = {
            **groundcode,
            "command": group.command(),
            "deploy": {"replicas": group.replicas},
        }
    return {"services": services, "volumes": {"postgres-data": {}, "redis-data": {}, "chroma-data": {}}}


class _PlainDumper(yaml.SafeDumper):
    """Writes shared parts out in full (no ``&id001`` anchors and aliases), and lists on one line."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_flow_list(self, data: list[Any]) -> yaml.Node:
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_PlainDumper.add_representer(list, _PlainDumper.represent_flow_list)


def compose_yaml(topology: Topology = TOPOLOGY) -> str:
    """``docker-compose.yml`` as committed: the header and the document, in the description's order."""
    body = yaml.dump(
        compose_document(topology), Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=110
    )
    return COMPOSE_HEADER + body


# --- the same topology as local processes -------------------------------------------------------------


@dataclass
class Process:
    name: str  # e.g. "chunking-worker-2"
    command: list[str]
    log: Path
    popen: subprocess.Popen[bytes]

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class LocalDeployment:
    """``topology`` as processes on loopback: a ``chroma run`` server, a migration, the APIs and the workers,
    on the given PostgreSQL database and Redis (under ``queue_prefix``).

    ``with LocalDeployment(...) as deployment:`` starts everything and waits until each API is ready;
    leaving the block stops it all. ``kill``/``restart`` are for fault tests.
    """

    database_url: str
    data_dir: Path
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_prefix: str = "groundcode"
    topology: Topology = TOPOLOGY
    base_port: int = 8000  # the APIs listen on base_port + their index, Chroma on the next port
    host: str = "127.0.0.1"
    environment: Mapping[str, str] = field(default_factory=dict)  # e.g. GROUNDCODE_LEASE_SECONDS
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def chroma_port(self) -> int:
        return self.base_port + len(self.topology.apis)

    @property
    def ports(self) -> dict[str, int]:
        return {api.name: self.base_port + index for index, api in enumerate(self.topology.apis)}

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://{self.host}:{port}" for name, port in self.ports.items()}

    @property
    def env(self) -> dict[str, str]:
        """The environment of every groundcode process (also what a CLI next to them needs)."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "GROUNDCODE_QUEUE": "redis",
            "GROUNDCODE_REDIS_URL": self.redis_url,
            "GROUNDCODE_QUEUE_PREFIX": self.queue_prefix,
            "GROUNDCODE_CHROMA_HOST": self.host,
            "GROUNDCODE_CHROMA_PORT": str(self.chroma_port),
            "GROUNDCODE_DATA_DIR": str(self.data_dir),
            **self.environment,
        }

    def __enter__(self) -> LocalDeployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self, timeout_seconds: float = 120) -> None:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
        chroma_path = str(self.data_dir / "chroma-server")
        self._spawn(
            "chroma",
            [chroma, "run", "--path", chroma_path, "--host", self.host, "--port", str(self.chroma_port)],
        )
        self._wait_for(f"http://{self.host}:{self.chroma_port}/api/v2/heartbeat", "chroma", timeout_seconds)
        migrate = self._spawn("migrate", self.groundcode_command(["init"]))
        if migrate.popen.wait(timeout_seconds) != 0:
            raise RuntimeError(f"the migration failed; see {migrate.log}")
        for api in self.topology.apis:
            self._spawn(api.name, self.groundcode_command(api.command(self.host, self.ports[api.name])))
        for group in self.topology.workers:
            for replica in range(1, group.replicas + 1):
                self._spawn(f"{group.name}-{replica}", self.groundcode_command(group.command()))
        for name, url in self.urls.items():
            self._wait_for(f"{url}/ready", name, timeout_seconds)

    def workers(self, group: str) -> list[str]:
        """The process names of a worker group."""
        return [name for name in self.processes if name.rsplit("-", 1)[0] == group]

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash: no clean-up, its unacked messages stay pending in Redis)."""
        popen = self.processes[name].popen
        popen.kill()
        popen.wait()

    def restart(self, name: str) -> None:
        process = self.processes[name]
        if process.alive:
            self.kill(name)
        self._spawn(name, process.command)

    def stop(self, timeout_seconds: float = 20) -> None:
        """Interrupt the groundcode processes (they finish their items), then Chroma; kill what lingers;
        then remove the stopped workers' consumers from the Redis consumer groups."""
        running = [p for p in self.processes.values() if p.alive and p.name != "chroma"]
        chroma = [p for p in self.processes.values() if p.alive and p.name == "chroma"]
        for batch in (running, chroma):
            for process in batch:
                process.popen.send_signal(signal.SIGINT)
            deadline = time.monotonic() + timeout_seconds
            for process in batch:
                try:
                    process.popen.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.popen.kill()
                    process.popen.wait()
        import redis  # here, not at the top: `groundcode --help` must not load the Redis client

        with contextlib.suppress(redis.RedisError):
            self._delete_consumers()

    def _delete_consumers(self) -> None:
        """Delete this deployment's idle consumers (named ``host-pid-…``); one with pending messages stays,
        so another consumer can still claim them."""
        import redis

        prefixes = tuple(f"{socket.gethostname()}-{p.popen.pid}-" for p in self.processes.values())
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            for stage in Stage:
                stream = f"{self.queue_prefix}:{stage.value}"
                if not client.exists(stream):
                    continue
                for group in client.xinfo_groups(stream):
                    for consumer in client.xinfo_consumers(stream, group["name"]):
                        if consumer["name"].startswith(prefixes) and consumer["pending"] == 0:
                            client.xgroup_delconsumer(stream, group["name"], consumer["name"])
        finally:
            client.close()

    def groundcode_command(self, arguments: list[str]) -> list[str]:
        """A ``groundcode`` command line (run it with ``env``)."""
        return [sys.executable, "-m", "groundcode", *arguments]

    def _spawn(self, name: str, command: list[str]) -> Process:
        log = self.data_dir / "logs" / f"{name}.log"
        with log.open("ab") as output:
            popen = subprocess.Popen(
                command, env=self.env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.processes[name] = Process(name, command, log, popen)
        return self.processes[name]

    def _wait_for(self, url: str, name: str, timeout_seconds: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout_seconds
        while True:
            if not self.processes[name].alive:
                raise RuntimeError(f"{name} exited; see {self.processes[name].log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not ready at {url} within {timeout_seconds:.0f} s")
            time.sleep(0.2)


# --- groundcode deploy -----------------------------------------------------------------------------------

deploy_app = typer.Typer(help="The scaled-out deployment: docker-compose.yml, or local processes.")


def _scaled(scale: list[str] | None) -> Topology:
    """The topology with the ``GROUP=N`` replica counts of ``--scale``."""
    try:
        replicas = {name: int(count) for name, count in (entry.split("=", 1) for entry in scale or [])}
        return TOPOLOGY.scaled(replicas)
    except ValueError as error:
        raise typer.BadParameter(f"{error} (use GROUP=N, e.g. chunking-worker=3)") from error


ScaleOption = Annotated[
    list[str] | None,
    typer.Option(help="Replicas of a worker group, GROUP=N (repeatable), e.g. chunking-worker=3."),
]


@deploy_app.command()
def compose(
    output: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
    scale: ScaleOption = None,
) -> None:
    """Print (or write) docker-compose.yml for the topology."""
    text = compose_yaml(_scaled(scale))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@deploy_app.command()
def run(
    scale: ScaleOption = None,
    base_port: Annotated[int, typer.Option(help="APIs on this port and the next three; Chroma next.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Logs and Chroma's files; default: data_dir.")] = None,
) -> None:
    """Start the topology as local processes on the DATABASE_URL PostgreSQL, GROUNDCODE_REDIS_URL Redis and a
    `chroma run` server of its own; stop everything with Ctrl-C (or SIGTERM)."""
    settings = Settings()
    if settings.database_url is None or not settings.database_url.startswith("postgresql"):
        raise typer.BadParameter("set DATABASE_URL to a PostgreSQL database (workers share it)")
    deployment = LocalDeployment(
        database_url=settings.database_url,
        data_dir=(data_dir or settings.data_dir).resolve(),
        redis_url=settings.redis_url,
        queue_prefix=settings.queue_prefix,
        topology=_scaled(scale),
        base_port=base_port,
    )

    def interrupt(signum: int, frame: FrameType | None) -> None:
        # Once: a second signal (Ctrl-C reaches the whole process group) must not interrupt the stopping.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    with contextlib.suppress(KeyboardInterrupt), deployment:
        for name, url in deployment.urls.items():
            typer.echo(f"{name:18} {url}")
        typer.echo(f"{'chroma':18} http://{deployment.host}:{deployment.chroma_port}")
        workers = ", ".join(f"{g.name} x{g.replicas}" for g in deployment.topology.workers)
        typer.echo(f"workers: {workers}; logs in {deployment.data_dir / 'logs'}. Ctrl-C stops everything.")
        _wait_forever(deployment)
    typer.echo("stopped")


def _wait_forever(deployment: LocalDeployment) -> NoReturn:
    """Until interrupted: restart any process that exits."""
    while True:
        for process in deployment.processes.values():
            if process.name != "migrate" and not process.alive:
                typer.echo(f"{process.name} exited; see {process.log}", err=True)
                deployment.restart(process.name)
        time.sleep(1)
