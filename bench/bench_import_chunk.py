"""Import + chunk throughput on a generated corpus, through the real pipeline (storage, queue, chunking).

    .venv/bin/python bench/bench_import_chunk.py --transcripts 500 --unit sentence
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench .venv/bin/python bench/bench_import_chunk.py

Transcripts are built from the bundled sample interviews' turns, shuffled with a fixed seed, so every
run sees the same corpus (English and Persian mixed). Prints one Markdown table row for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from functools import partial
from importlib import resources
from pathlib import Path

from groundcode.app import Groundcode, open_groundcode, wait_until_finished
from groundcode.domain import SegmentUnit, Stage
from groundcode.queue.ports import FollowUps
from groundcode.queue.taskiq_queue import WorkService
from groundcode.settings import Settings
from groundcode.storage.repository import Repository
from services.chunking.ingest import ReadOptions, chunk_source, import_file
from services.chunking.segmenter import ChunkOptions


def sample_turns() -> list[str]:
    """Speaker turns of the bundled samples, each starting with its label line."""
    turns: list[str] = []
    for name in ("interview_01_en.txt", "interview_02_fa.txt"):
        text = (resources.files("groundcode") / "samples" / name).read_text(encoding="utf-8")
        turns.extend(paragraph for paragraph in text.split("\n\n") if ":" in paragraph[:40])
    return turns


def generate_corpus(directory: Path, transcripts: int, turns_per_transcript: int, seed: int) -> int:
    """Write the corpus; returns its size in bytes."""
    rng = random.Random(seed)
    turns = sample_turns()
    total = 0
    for index in range(transcripts):
        body = "\n\n".join(rng.choice(turns) for _ in range(turns_per_transcript))
        data = f"Interview {index:04d}\n\n{body}\n".encode()
        (directory / f"interview_{index:04d}.txt").write_bytes(data)
        total += len(data)
    return total


def chunk_only(repository: Repository, source_id: str) -> FollowUps:
    """The chunk stage without its hand-over to indexing, so only import + chunk is timed."""
    chunk_source(repository, source_id)
    return []


async def chunk_all(groundcode: Groundcode, source_ids: list[str]) -> None:
    handlers = {Stage.CHUNK: partial(chunk_only, groundcode.repository)}
    async with WorkService(groundcode.settings, groundcode.work_items, handlers) as work:
        items = [await work.runner.submit(Stage.CHUNK, source_id) for source_id in source_ids]
        await wait_until_finished(groundcode.work_items, items, poll_seconds=0.05)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transcripts", type=int, default=500)
    parser.add_argument("--turns", type=int, default=60, help="speaker turns per transcript")
    parser.add_argument("--unit", type=SegmentUnit, default=SegmentUnit.SENTENCE)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        corpus = Path(workdir) / "corpus"
        corpus.mkdir()
        corpus_bytes = generate_corpus(corpus, args.transcripts, args.turns, args.seed)
        settings = Settings(data_dir=Path(workdir) / "data")
        groundcode = open_groundcode(settings)
        project = groundcode.repository.ensure_project("bench")
        options = ChunkOptions(unit=args.unit)
        read = ReadOptions(max_bytes=settings.max_file_bytes)

        started = time.perf_counter()
        source_ids = []
        for path in sorted(corpus.iterdir()):
            result = import_file(
                groundcode.repository, project.id, path.name, path.read_bytes(), options, read
            )
            assert result.source_id, result.error
            source_ids.append(result.source_id)
        imported = time.perf_counter()
        asyncio.run(chunk_all(groundcode, source_ids))
        finished = time.perf_counter()

        segments = sum(groundcode.repository.segment_counts(project.id).values())
        database = settings.resolved_database_url().split(":", 1)[0]
        groundcode.close()

    total_seconds = finished - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    megabytes = corpus_bytes / 1e6
    print(
        "| transcripts | MB | unit | database | segments | import s | chunk s | total s "
        "| segments/s | MB/s | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.transcripts} | {megabytes:.1f} | {args.unit.value} | {database} | {segments} "
        f"| {imported - started:.1f} | {finished - imported:.1f} | {total_seconds:.1f} "
        f"| {segments / total_seconds:.0f} | {megabytes / total_seconds:.2f} | {peak_rss_mb:.0f} |"
    )


if __name__ == "__main__":
    main()
