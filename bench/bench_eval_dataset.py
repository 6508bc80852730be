"""How long ``groundcode eval dataset`` takes on a 600-unit dataset (issue #12's target: under 5 minutes for
10 steps and 3 repeats on 2 cores), next to one raw embedding pass of the same texts as the yardstick.

    .venv/bin/python bench/bench_eval_dataset.py --out /tmp/eval-600 [--units 600] [--repeats 3] [--steps 10]

The dataset is joined from the stored benchmark sets (``eval/datasets``): ``ci_claims``, ``seed_code_image``,
``seed_subtheme_theme``, ``seed_concept_component``, the interviewer turns and front matter of
``none_ci_claims`` (no code applies) and, to make up the number, units of ``opaque_seed_code_image``. Each
set's codebook becomes one parent code of the joined codebook. A second coder ``bob`` agrees with the gold
coding on 85 % of the units (seeded) and picks another code of the same set elsewhere. The embedding cache
is emptied first, so the run pays for every embedding once, as a first run on a new dataset does.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import subprocess  # nosec B404: runs this checkout's own command line
import sys
import time
from pathlib import Path

import yaml

DATASETS = Path(__file__).resolve().parent.parent / "eval" / "datasets"
PARTS = ("ci_claims", "seed_code_image", "seed_subtheme_theme", "seed_concept_component")
DISTRACTORS = "none_ci_claims"
FILLER = "opaque_seed_code_image"
AGREEMENT = 0.85


def _rows(name: str) -> list[dict[str, str]]:
    with (DATASETS / name / "units.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _codebook(name: str) -> list[dict[str, object]]:
    codes: list[dict[str, object]] = yaml.safe_load((DATASETS / name / "codebook.yaml").read_text("utf-8"))[
        "codes"
    ]
    return codes


def _leaves(codes: list[dict[str, object]]) -> list[str]:
    found: list[str] = []
    for code in codes:
        children = code.get("children")
        found += _leaves(children) if isinstance(children, list) else [str(code["name"])]
    return found


def joined_dataset(folder: Path, units: int, seed: int = 0) -> tuple[Path, Path]:
    """Write ``units.csv`` and ``codebook.yaml`` of the joined dataset into ``folder``."""
    rng = random.Random(seed)
    picked: list[tuple[str, dict[str, str]]] = [(name, row) for name in PARTS for row in _rows(name)]
    picked += [(DISTRACTORS, row) for row in _rows(DISTRACTORS) if not row["gold"]]
    picked += [(FILLER, row) for row in _rows(FILLER)][: max(0, units - len(picked))]
    picked = picked[:units]
    sets = sorted({name for name, _ in picked} - {DISTRACTORS})
    leaves = {name: _leaves(_codebook(name)) for name in sets}
    codebook = {"name": "joined", "codes": [{"name": name, "children": _codebook(name)} for name in sets]}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "text", "gold", "bob"])
    for number, (name, row) in enumerate(picked, start=1):
        gold = row["gold"]
        bob = gold
        if gold and rng.random() > AGREEMENT:
            bob = rng.choice([code for code in leaves[name] if code not in gold.split(";")])
        writer.writerow([f"J{number:04d}", row["text"], gold, bob])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "units.csv").write_text(out.getvalue(), encoding="utf-8")
    (folder / "codebook.yaml").write_text(yaml.safe_dump(codebook, allow_unicode=True), encoding="utf-8")
    return folder / "units.csv", folder / "codebook.yaml"


def embedding_pass(texts: list[str]) -> float:
    """Seconds to embed ``texts`` once as queries with the bundled model (no cache)."""
    from services.retrieval.embeddings import LocalE5Embedder

    embedder = LocalE5Embedder()
    started = time.perf_counter()
    embedder.embed_queries(texts)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--units", type=int, default=600)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    units_file, codebook_file = joined_dataset(options.out / "dataset", options.units)
    data = options.out / "data"
    command = [
        str(Path(sys.executable).with_name("groundcode")),
        "eval",
        "dataset",
        str(units_file),
        "--codebook",
        str(codebook_file),
        "--coders",
        "gold,bob",
        "--gold",
        "gold",
        "--steps",
        str(options.steps),
        "--repeats",
        str(options.repeats),
        "--order",
        "random",
        "--out",
        str(options.out / "report"),
    ]
    environment = {**os.environ, "GROUNDCODE_DATA_DIR": str(data), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)  # nosec B603
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with units_file.open(encoding="utf-8", newline="") as file:
        texts = [row["text"] for row in csv.DictReader(file)]
    yardstick = embedding_pass(texts)
    print("| units | steps x repeats | eval dataset | one embedding pass | ratio | peak RSS |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {len(texts)} | {options.steps} x {options.repeats} | {elapsed:.0f} s | {yardstick:.1f} s "
        f"| {elapsed / yardstick:.1f} | {peak_mb:.0f} MB |"
    )


if __name__ == "__main__":
    main()
