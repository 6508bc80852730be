"""How long does a researcher wait for a command that does little? (issue #16, "instant commands")

    .venv/bin/python -m bench.bench_cli_startup [--rounds 15] [--compare-tree OLD_CHECKOUT]

Runs, round-robin so that the machine's noise falls on every command alike: ``--help`` of a minimal
two-command typer app (the framework's floor), ``groundcode --help``, and ``groundcode status``, ``sources``
and ``segments`` on a data folder holding one imported sample interview. Prints each command's median wall
time and ``groundcode --help`` as a ratio to the floor. Targets: ratio ≤ 3; status, sources and segments
≤ 1 s each. ``--compare-tree`` also times ``--help`` and ``status`` of another checkout of groundcode (put
first on ``PYTHONPATH``, same interpreter and packages) in the same rounds: a before/after of a change.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

MINIMAL_APP = '''
import typer

app = typer.Typer()


@app.command()
def first(name: str = "") -> None:
    """One."""


@app.command()
def second(count: int = 0) -> None:
    """Two."""


app()
'''


def wall_seconds(command: list[str], env: dict[str, str], folder: str) -> float:
    """One run's wall time in ``folder`` (not the checkout: ``python -m`` puts the working folder first on the
    path, ahead of ``PYTHONPATH``); the command must succeed."""
    started = time.perf_counter()
    subprocess.run(
        command, env=env, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--compare-tree", type=Path, help="Another groundcode checkout to time alongside.")
    args = parser.parse_args()
    groundcode = [sys.executable, "-m", "groundcode"]
    with tempfile.TemporaryDirectory(prefix="groundcode-bench-cli-") as folder:
        env = {**os.environ, "GROUNDCODE_DATA_DIR": str(Path(folder) / "data")}
        env.pop("GROUNDCODE_DATABASE_URL", None)
        minimal = Path(folder) / "minimal.py"
        minimal.write_text(MINIMAL_APP, encoding="utf-8")
        sample = Path(str(resources.files("groundcode") / "samples" / "interview_01_en.txt"))
        subprocess.run([*groundcode, "import", str(sample), "-p", "bench"], env=env, cwd=folder, check=True)
        commands = {
            "typer floor --help": [sys.executable, str(minimal), "--help"],
            "groundcode --help": [*groundcode, "--help"],
            "groundcode status": [*groundcode, "status"],
            "groundcode sources": [*groundcode, "sources", "-p", "bench"],
            "groundcode segments": [*groundcode, "segments", "-p", "bench", "--limit", "20"],
        }
        envs = {name: env for name in commands}
        if args.compare_tree is not None:  # its own data folder: the two may differ in schema
            other = {
                **env,
                "PYTHONPATH": str(args.compare_tree.resolve()),
                "GROUNDCODE_DATA_DIR": str(Path(folder) / "compared-data"),
            }
            subprocess.run(
                [*groundcode, "import", str(sample), "-p", "bench"], env=other, cwd=folder, check=True
            )
            for name in ("groundcode --help", "groundcode status"):
                commands[f"compared {name}"] = commands[name]
                envs[f"compared {name}"] = other
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _round in range(args.rounds):
            for name, command in commands.items():
                times[name].append(wall_seconds(command, envs[name], folder))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:22s} median {median:.3f} s  (min {min(times[name]):.3f}, max {max(times[name]):.3f})")
    ratio = medians["groundcode --help"] / medians["typer floor --help"]
    print(f"groundcode --help / typer floor: x{ratio:.2f} (target <= 3)")
    slow = [
        name
        for name in ("groundcode status", "groundcode sources", "groundcode segments")
        if medians[name] > 1
    ]
    print("status, sources, segments <= 1 s:", "met" if not slow else f"missed by {', '.join(slow)}")


if __name__ == "__main__":
    main()
