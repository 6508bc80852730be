"""Offline suggestion throughput through the suggest stage, against raw embedding throughput.

    .venv/bin/python bench/bench_offline_suggest.py --copies 5 [--unit turn]

The bundled sample interviews are imported ``--copies`` times (each copy a distinct source), chunked
into sentences (or ``--unit``) and indexed with the bundled codebook. Then, per mode, every source goes
through the suggest stage handler (offline backend: retrieval, scoring, quotes, storage), timed; and the
same segment texts are embedded once as queries, timed, as the yardstick. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from importlib import resources
from pathlib import Path

from groundcode.app import Groundcode, open_groundcode
from groundcode.codebook_io import parse_codebook
from groundcode.domain import SegmentUnit, Stage
from groundcode.settings import Settings
from services.chunking.ingest import ReadOptions, chunk_source, import_file
from services.chunking.segmenter import ChunkOptions
from services.retrieval.indexing import index_codebook, index_source

SAMPLES = ("interview_01_en.txt", "interview_02_fa.txt")


def prepare(groundcode: Groundcode, copies: int, unit: SegmentUnit) -> tuple[list[str], list[str]]:
    """Import, chunk and index the samples ``copies`` times; returns the source ids and segment texts."""
    repository = groundcode.repository
    project = repository.ensure_project("bench")
    samples = resources.files("groundcode") / "samples"
    codes = parse_codebook(
        "codebook.yaml", (samples / "codebook.yaml").read_text(encoding="utf-8"), namespace=project.id
    )
    repository.save_codebook(project.id, "codebook", codes)
    index_codebook(repository, groundcode.embedder, groundcode.vector_store, project.id)
    source_ids = []
    for copy in range(copies):
        for name in SAMPLES:
            data = f"Copy {copy}\n\n".encode() + (samples / name).read_bytes()
            result = import_file(
                repository,
                project.id,
                f"{copy}-{name}",
                data,
                ChunkOptions(unit=unit),
                ReadOptions(max_bytes=groundcode.settings.max_file_bytes),
            )
            assert result.source_id is not None, result.error
            chunk_source(repository, result.source_id)
            index_source(repository, groundcode.embedder, groundcode.vector_store, result.source_id)
            source_ids.append(result.source_id)
    texts = [segment.text for source_id in source_ids for segment in repository.list_segments(source_id)]
    return source_ids, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5, help="How many times to import the samples.")
    parser.add_argument("--unit", type=SegmentUnit, default=SegmentUnit.SENTENCE, help="Unit of analysis.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), database_url=None)
        groundcode = open_groundcode(settings)
        source_ids, texts = prepare(groundcode, args.copies, args.unit)
        started = time.perf_counter()
        groundcode.embedder.embed_queries(texts)
        embedding_rate = len(texts) / (time.perf_counter() - started)
        print(
            f"{len(source_ids)} sources, {len(texts)} segments; raw embedding {embedding_rate:.1f} segments/s"
        )
        print("| mode | segments/s through the stage | ratio to raw embedding | suggestions |")
        print("|---|---|---|---|")
        for mode in ("deductive", "inductive", "both"):
            groundcode.settings = settings.model_copy(update={"suggestion_mode": mode})
            suggest = groundcode.handlers()[Stage.SUGGEST]
            started = time.perf_counter()
            for source_id in source_ids:
                suggest(source_id)
            rate = len(texts) / (time.perf_counter() - started)
            stored = sum(
                1
                for source_id in source_ids
                for suggestion in groundcode.suggestions.list_for_source(source_id)
                if mode in ("both", suggestion.mode)
            )
            print(f"| {mode} | {rate:.1f} | {rate / embedding_rate:.2f} | {stored} |")
        groundcode.close()


if __name__ == "__main__":
    main()
