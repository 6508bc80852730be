"""The decision API under concurrent coders: latency per request kind, throughput, and integrity.

    .venv/bin/python -m bench.bench_decisions --database sqlite --coders 50 --decisions-per-coder 20
    .venv/bin/python -m bench.bench_decisions --database postgres --coders 50 --decisions-per-coder 20

A study is prepared through the real pipeline (``groundcode import`` of the bundled sample interviews,
``--copies`` times with a distinct first line so the copies are not deduplicated, plus the sample
codebook; offline deductive suggestions), then one owner and ``--coders`` coders with API tokens. The
real server runs as a separate process (``groundcode serve``, stage workers included, so every decision's
learn item is processed meanwhile), on SQLite in the data directory or on a fresh PostgreSQL database that
is dropped afterwards.

Each coder is one asyncio task with its own httpx client: next segment for me (``GET review``), then a
decision on it with the view's version (accept the first deductive candidate, reject it with a reason,
or skip), sometimes followed by ``POST undo``. Afterwards the owner's decision log and codings are
checked against what the clients were told: every confirmed decision in the log exactly once, nothing
unconfirmed, and each coder's codings equal to its accepts minus its undos. Exits 1 if anything was
lost, doubled or unexpected, or on any 409, 5xx or transport error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url

from groundcode.domain import Role
from groundcode.settings import Settings
from tests.live_server import api_token, free_port

PROJECT = "bench"
REASONS = ("wrong_code", "too_broad", "too_narrow", "not_relevant", "quote_wrong", "other")
SAMPLES = ("interview_01_en.txt", "interview_02_fa.txt")
KINDS = ("review", "decide", "undo")
GROUNDCODE = (sys.executable, "-m", "groundcode")

Json = dict[str, Any]
CodingKey = tuple[str, str, str, int, int]
"""(coder, suggestion id, code id, start, end): one coding as the owner's codings list shows it."""


@dataclass
class Coder:
    """One simulated coder and what the server confirmed to it."""

    name: str
    headers: dict[str, str]
    decided: int = 0
    confirmed: list[str] = field(default_factory=list)
    """Ids of every decision (undos included) the server answered 2xx for."""
    accepted: dict[str, CodingKey] = field(default_factory=dict)
    undone: set[str] = field(default_factory=set)
    misdirected_undos: int = 0
    """Undos that cancelled something else than the coder's decision just made."""
    ran_out: bool = False

    def expected_codings(self) -> Counter[CodingKey]:
        return Counter(key for decision_id, key in self.accepted.items() if decision_id not in self.undone)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)

    async def call(
        self, client: httpx.AsyncClient, kind: str, method: str, path: str, body: Json | None = None
    ) -> httpx.Response | None:
        """The response, timed under ``kind``; ``None`` after a transport error (counted)."""
        started = time.perf_counter()
        try:
            response = await client.request(method, path, json=body)
        except httpx.TransportError as error:
            self.transport_errors[f"{kind}: {type(error).__name__}"] += 1
            return None
        self.latencies[kind].append(time.perf_counter() - started)
        self.statuses[kind, response.status_code] += 1
        return response

    def count(self, low: int, high: int) -> int:
        return sum(n for (_, code), n in self.statuses.items() if low <= code < high)


def choose(view: Json, rng: random.Random, reject_share: float, skip_share: float) -> Json:
    """The coder's decision on the segment: accept its first deductive candidate, reject it with a reason,
    or skip the segment (also when it has no deductive candidate)."""
    deductive = [c for c in view["candidates"] if c["mode"] == "deductive"]
    roll = rng.random()
    if not deductive or roll < skip_share:
        return {"action": "skip", "segment_id": view["segment_id"], "version": view["version"]}
    suggestion_id = deductive[0]["suggestion_id"]
    if roll < skip_share + reject_share:
        reason = rng.choice(REASONS)
        return {
            "action": "reject",
            "suggestion_id": suggestion_id,
            "reason": reason,
            "version": view["version"],
        }
    return {"action": "accept", "suggestion_ids": [suggestion_id], "version": view["version"]}


async def simulate(coder: Coder, base_url: str, stats: Stats, args: argparse.Namespace, seed: int) -> None:
    rng = random.Random(seed)
    attempts = 0
    async with httpx.AsyncClient(base_url=base_url, headers=coder.headers, timeout=120) as client:
        while coder.decided < args.decisions_per_coder and attempts < 3 * args.decisions_per_coder:
            attempts += 1
            response = await stats.call(client, "review", "GET", f"/projects/{PROJECT}/review")
            if response is None or not response.is_success:
                continue
            view: Json | None = response.json()
            if view is None:
                coder.ran_out = True
                return
            body = choose(view, rng, args.reject_share, args.skip_share)
            response = await stats.call(client, "decide", "POST", f"/projects/{PROJECT}/decisions", body)
            if response is None or not response.is_success:
                continue
            coder.decided += 1
            for decision in response.json()["decisions"]:
                coder.confirmed.append(decision["id"])
                if decision["kind"] == "accept":
                    coder.accepted[decision["id"]] = (
                        coder.name,
                        decision["suggestion_id"],
                        decision["code_id"],
                        decision["start"],
                        decision["end"],
                    )
            if rng.random() < args.undo_share:
                response = await stats.call(client, "undo", "POST", f"/projects/{PROJECT}/undo")
                if response is not None and response.is_success:
                    result = response.json()
                    if result["undone"]["id"] != coder.confirmed[-1]:
                        coder.misdirected_undos += 1
                    coder.confirmed.append(result["undo"]["id"])
                    coder.undone.add(result["undone"]["id"])


async def run_coders(base_url: str, coders: list[Coder], args: argparse.Namespace) -> tuple[Stats, float]:
    stats = Stats()
    started = time.perf_counter()
    await asyncio.gather(
        *(simulate(coder, base_url, stats, args, args.seed + n) for n, coder in enumerate(coders))
    )
    return stats, time.perf_counter() - started


def check_integrity(base_url: str, owner: dict[str, str], coders: list[Coder]) -> list[str]:
    """What is wrong with the stored decisions and codings against what the clients were confirmed."""
    with httpx.Client(base_url=base_url, headers=owner, timeout=300) as client:
        log = client.get(f"/projects/{PROJECT}/decisions").raise_for_status().json()
        rows = client.get(f"/projects/{PROJECT}/codings").raise_for_status().json()
    stored = Counter(decision["id"] for decision in log)
    confirmed = Counter(decision_id for coder in coders for decision_id in coder.confirmed)
    problems = [f"decision {i} confirmed {n} times" for i, n in confirmed.items() if n > 1]
    problems += [f"decision {i} stored {n} times" for i, n in stored.items() if n > 1]
    problems += [f"confirmed decision {i} missing from the log" for i in confirmed if i not in stored]
    problems += [f"decision {i} in the log was never confirmed" for i in stored if i not in confirmed]
    derived = Counter[CodingKey](
        (row["coder"], row["suggestion_id"], row["code_id"], row["start"], row["end"]) for row in rows
    )
    for coder in coders:
        actual = Counter({key: n for key, n in derived.items() if key[0] == coder.name})
        expected = coder.expected_codings()
        if actual != expected:
            missing, extra = sorted(expected - actual), sorted(actual - expected)
            problems.append(f"{coder.name}: codings differ, missing {missing}, extra {extra}")
    print(
        f"Integrity: {sum(confirmed.values())} confirmed decisions, {len(log)} in the log, "
        f"{len(rows)} codings ({sum(sum(c.expected_codings().values()) for c in coders)} expected)."
    )
    return problems


def percentiles(seconds: list[float]) -> str:
    if len(seconds) < 2:
        return "– | – | –"
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return " | ".join(f"{cuts[p - 1] * 1000:.0f}" for p in (50, 95, 99))


def report(stats: Stats, elapsed: float, coders: list[Coder], database: str) -> None:
    print(f"\n{database}, {len(coders)} coders, {elapsed:.1f} s:\n")
    print("| request | count | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|")
    rows = [(kind, stats.latencies[kind]) for kind in KINDS]
    for kind, seconds in [*rows, ("all", [s for _, values in rows for s in values])]:
        print(f"| {kind} | {len(seconds)} | {percentiles(seconds)} |")
    requests = sum(len(values) for values in stats.latencies.values())
    decisions = sum(coder.decided for coder in coders)
    undos = sum(len(coder.undone) for coder in coders)
    print(
        f"\nThroughput: {requests / elapsed:.1f} requests/s, {decisions / elapsed:.1f} decisions/s "
        f"({decisions} decisions, {undos} undos). Statuses: "
        + ", ".join(f"{kind} {code}: {n}" for (kind, code), n in sorted(stats.statuses.items()))
    )


def write_corpus(folder: Path, copies: int) -> list[Path]:
    """The bundled sample interviews ``copies`` times, each copy with its own first line (import
    deduplicates identical content), and the bundled codebook last."""
    samples = resources.files("groundcode") / "samples"
    files = []
    for copy in range(1, copies + 1):
        for name in SAMPLES:
            path = folder / name.replace(".txt", f"_copy{copy:02}.txt")
            path.write_text(
                f"(copy {copy}) " + (samples / name).read_text(encoding="utf-8"), encoding="utf-8"
            )
            files.append(path)
    codebook = folder / "codebook.yaml"
    codebook.write_text((samples / "codebook.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return [*files, codebook]


@contextmanager
def fresh_database(kind: str, server_url: str) -> Iterator[str | None]:
    """``None`` for the embedded SQLite default; else the URL of a new PostgreSQL database, dropped after."""
    if kind == "sqlite":
        yield None
        return
    name = f"gc_bench_decisions_{os.getpid()}"
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@contextmanager
def running_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """``groundcode serve`` in its own process until the block ends; yields its base URL."""
    port = free_port()
    command = [*GROUNDCODE, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(base_url + "/openapi.json", timeout=5).is_success:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="A server where a fresh database may be created (and is dropped after the run).",
    )
    parser.add_argument("--coders", type=int, default=50)
    parser.add_argument("--decisions-per-coder", type=int, default=20)
    parser.add_argument("--copies", type=int, default=3, help="Copies of the two sample interviews imported.")
    parser.add_argument("--reject-share", type=float, default=0.2)
    parser.add_argument("--skip-share", type=float, default=0.1)
    parser.add_argument("--undo-share", type=float, default=0.15, help="Share of decisions undone at once.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="gc-bench-decisions-") as work,
        fresh_database(args.database, args.postgres_url) as database_url,
    ):
        folder = Path(work)
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("GROUNDCODE_")}
        env["GROUNDCODE_DATA_DIR"] = str(folder / "data")
        if database_url is not None:
            env["DATABASE_URL"] = database_url
        *transcripts, codebook = write_corpus(folder, args.copies)
        started = time.perf_counter()
        subprocess.run(
            [*GROUNDCODE, "import", *map(str, transcripts), "-p", PROJECT, "--codebook", str(codebook)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        settings = Settings(data_dir=folder / "data", database_url=database_url)
        owner = api_token(settings, "owner", projects=[PROJECT], role=Role.OWNER)
        coders = [
            Coder(name, api_token(settings, name, projects=[PROJECT], role=Role.CODER))
            for name in (f"coder{n:02}" for n in range(1, args.coders + 1))
        ]
        print(
            f"Prepared {len(transcripts)} transcripts, {len(coders)} coders in "
            f"{time.perf_counter() - started:.0f} s ({args.database})."
        )
        with running_server(env, folder / "server.log") as base_url:
            with httpx.Client(base_url=base_url, headers=owner, timeout=120) as client:
                queue = client.get(f"/projects/{PROJECT}/review").raise_for_status().json()["queue_length"]
            print(f"Review queue: {queue} segments with suggestions per coder.")
            stats, elapsed = asyncio.run(run_coders(base_url, coders, args))
            report(stats, elapsed, coders, args.database)
            problems = check_integrity(base_url, owner, coders)
        problems += [f"{coder.name} ran out of segments" for coder in coders if coder.ran_out]
        problems += [
            f"{c.name}: {c.misdirected_undos} misdirected undos" for c in coders if c.misdirected_undos
        ]
        problems += [f"{n} × {what}" for what, n in stats.transport_errors.items()]
        if refused := stats.count(400, 500):
            problems.append(f"{refused} × 4xx, of them {stats.count(409, 410)} × 409 (independent coders)")
        if errors := stats.count(500, 600):
            problems.append(f"{errors} × 5xx:\n" + (folder / "server.log").read_text()[-3000:])
    print(
        "\n".join(["Integrity: FAILED", *problems])
        if problems
        else "Integrity: OK (nothing lost or doubled)."
    )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
