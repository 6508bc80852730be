"""Retrieval throughput and latency: embedding with the bundled E5 model, Chroma adds and queries.

    .venv/bin/python bench/bench_retrieval.py --segments 10000 --store-only 200000

1. Embedding: ``--segments`` texts, each two random sentences of the bundled sample interviews (English and
   Persian, fixed seed), through ``LocalE5Embedder.embed_passages`` (normalisation included).
2. Chroma with those real vectors: add through ``ChromaVectorStore.upsert``, then query latency (k=10) for
   one query, with a source filter, and per query in a batch of 32.
3. Chroma store-only at ``--store-only`` items: random unit vectors of the model's dimension (no embedding),
   the same metadata shape, added in batches; the same query latencies.

Embedded Chroma in a temporary directory. Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from groundcode.domain import SegmentUnit
from services.chunking.ingest import ReadOptions, build_source, segments_for
from services.chunking.segmenter import ChunkOptions
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.vector_store import ChromaVectorStore, CollectionKind, CollectionRef, VectorRecord

SOURCES = 100
QUERY_BATCH = 32


def sample_sentences() -> list[tuple[str, str | None]]:
    """``(text, speaker)`` of every sentence of the bundled sample interviews."""
    sentences: list[tuple[str, str | None]] = []
    for name in ("interview_01_en.txt", "interview_02_fa.txt"):
        data = (resources.files("groundcode") / "samples" / name).read_bytes()
        options = ChunkOptions(unit=SegmentUnit.SENTENCE)
        source = build_source("bench", name, data, options, ReadOptions(max_bytes=len(data)))
        sentences.extend((segment.text, segment.speaker) for segment in segments_for(source))
    return sentences


def corpus(size: int, seed: int) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    sentences = sample_sentences()
    pairs = (rng.sample(sentences, 2) for _ in range(size))
    return [(f"{first[0]} {second[0]}", first[1]) for first, second in pairs]


def record(index: int, embedding: Sequence[float], text: str, speaker: str | None) -> VectorRecord:
    metadata: dict[str, str | int | float | bool | list[str]] = {
        "source_id": f"source-{index % SOURCES}",
        "position": index // SOURCES,
        "content_hash": f"{index:064x}",
    }
    if speaker:
        metadata["speaker"] = speaker
    return VectorRecord(id=f"segment-{index}", embedding=embedding, document=text, metadata=metadata)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f}"


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def measure_store(
    store: ChromaVectorStore,
    ref: CollectionRef,
    records: Callable[[int, int], list[VectorRecord]],
    size: int,
    batch: int,
    probes: np.ndarray,
) -> dict[str, str]:
    started = time.perf_counter()
    for start in range(0, size, batch):
        store.upsert(ref, records(start, min(size, start + batch)))
    added = time.perf_counter() - started
    assert store.count(ref) == size
    probe = iter(np.resize(probes, (10_000, probes.shape[1])).tolist())
    single = timed(lambda: store.query(ref, [next(probe)], 10), 200)
    filtered = timed(lambda: store.query(ref, [next(probe)], 10, {"source_id": "source-7"}), 200)
    batched = timed(lambda: store.query(ref, [next(probe) for _ in range(QUERY_BATCH)], 10), 20)
    return {
        "items": f"{size:,}",
        "add": f"{added:.1f} s ({size / added:,.0f}/s, batches of {batch:,})",
        "query k=10 p50 / p95 ms": milliseconds(single),
        "filtered by source": milliseconds(filtered),
        f"per query, batch of {QUERY_BATCH}": milliseconds([sample / QUERY_BATCH for sample in batched]),
        "peak RSS": f"{peak_rss_mib():,.0f} MiB",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--segments", type=int, default=10_000, help="embedded with the model")
    parser.add_argument("--store-only", type=int, default=200_000, help="random vectors, Chroma only")
    parser.add_argument("--batch", type=int, default=5_000, help="items per Chroma add")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    embedder = LocalE5Embedder()
    texts = corpus(args.segments, args.seed)
    embedder.embed_passages([text for text, _ in texts[:32]])  # warm-up
    started = time.perf_counter()
    vectors = embedder.embed_passages([text for text, _ in texts])
    embedding_seconds = time.perf_counter() - started
    query_latency = timed(lambda: embedder.embed_queries(["How did the closure affect your family?"]), 50)
    mean_length = np.mean([len(text) for text, _ in texts])
    print(
        f"Embedding: {args.segments:,} segments (mean {mean_length:.0f} characters) in "
        f"{embedding_seconds:.0f} s = {args.segments / embedding_seconds:.1f} segments/s; one query "
        f"p50 / p95 {milliseconds(query_latency)} ms; peak RSS {peak_rss_mib():,.0f} MiB\n"
    )

    probes = np.asarray(embedder.embed_queries([text for text, _ in texts[:100]]), dtype=np.float32)
    rng = np.random.default_rng(args.seed)

    def real(start: int, end: int) -> list[VectorRecord]:
        return [record(index, vectors[index], *texts[index]) for index in range(start, end)]

    def random_unit(start: int, end: int) -> list[VectorRecord]:
        block = rng.standard_normal((end - start, embedder.dimension), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        return [
            record(index, row, *texts[index % len(texts)])
            for index, row in zip(range(start, end), block.tolist(), strict=True)
        ]

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        store = ChromaVectorStore.persistent(Path(workdir) / "chroma")
        for label, records, size in (
            ("real E5 vectors", real, args.segments),
            ("random unit vectors", random_unit, args.store_only),
        ):
            ref = CollectionRef(
                project_id=label, kind=CollectionKind.SEGMENTS, embedding_model=embedder.model_id
            )
            rows.append({"vectors": label, **measure_store(store, ref, records, size, args.batch, probes)})
        disk = sum(path.stat().st_size for path in Path(workdir).rglob("*") if path.is_file())
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(row.values()) + " |")
    print(f"\nChroma directory after both: {disk / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
