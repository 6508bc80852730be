"""Does a review page, a decision and an undo slow down as a coder's own history grows? (issue #16)

    .venv/bin/python -m bench.bench_review_history [--history 5000] [--database postgres]

The bundled sample interviews are imported, chunked into sentences and suggested (offline backend), in a
temporary data folder (SQLite, or a fresh PostgreSQL database). One coder then reviews: the time of the
review page (``Adjudication.segment_view``, the next segment), of a "no code applies" decision on it and of
its undo is measured with no history, then again after ``--history`` decisions of that coder were appended
(skips and "no code applies" marks on other segments, as a long study leaves them). Prints medians and the
ratio with history to without, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from importlib import resources
from pathlib import Path

from bench.bench_decisions import fresh_database
from groundcode.app import Groundcode, open_groundcode
from groundcode.codebook_io import parse_codebook
from groundcode.domain import Access, Decision, DecisionKind, Role, Stage
from groundcode.settings import Settings
from services.adjudication.models import NoCodeRequest, ReviewFilter
from services.chunking.ingest import ReadOptions, chunk_source, import_file
from services.chunking.segmenter import ChunkOptions
from services.retrieval.indexing import index_codebook, index_source

ROUNDS = 30


def prepare(groundcode: Groundcode) -> Access:
    """The sample study, suggested, and a coder's access to it."""
    repository = groundcode.repository
    project = repository.ensure_project("history")
    samples = resources.files("groundcode") / "samples"
    codebook = (samples / "codebook.yaml").read_text(encoding="utf-8")
    repository.save_codebook(
        project.id, "codebook", parse_codebook("codebook.yaml", codebook, namespace=project.id)
    )
    index_codebook(repository, groundcode.embedder, groundcode.vector_store, project.id)
    for name in ("interview_01_en.txt", "interview_02_fa.txt"):
        result = import_file(
            repository,
            project.id,
            name,
            (samples / name).read_bytes(),
            ChunkOptions(),
            ReadOptions(max_bytes=groundcode.settings.max_file_bytes),
        )
        assert result.source_id is not None, result.error
        chunk_source(repository, result.source_id)
        index_source(repository, groundcode.embedder, groundcode.vector_store, result.source_id)
        groundcode.handlers()[Stage.SUGGEST](result.source_id)
    user = groundcode.accounts.add_user("coder")
    groundcode.accounts.set_member(project.id, user.id, Role.CODER)
    return Access(project=project, user=user, role=Role.CODER)


def median_ms(action: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(groundcode: Groundcode, who: Access) -> dict[str, float]:
    """Median milliseconds of the review page, a decision on it, and undoing that decision."""
    adjudication = groundcode.adjudication
    todo = ReviewFilter()
    view = adjudication.segment_view(who, todo)
    assert view is not None

    def decide_and_undo() -> None:
        current = adjudication.segment_view(who, todo, view.segment_id)
        assert current is not None
        adjudication.decide(who, NoCodeRequest(segment_id=view.segment_id, version=current.version))
        adjudication.undo(who)

    page = median_ms(lambda: adjudication.segment_view(who, todo))
    both = median_ms(decide_and_undo)
    return {"review page": page, "decide + undo (with the page they need)": both}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history", type=int, default=5000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--server-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, fresh_database(options.database, options.server_url) as url:
        settings = Settings(data_dir=Path(folder), database_url=url)
        with closing(open_groundcode(settings)) as groundcode:
            who = prepare(groundcode)
            before = measure(groundcode, who)
            kinds = (DecisionKind.SKIP, DecisionKind.NO_CODE)
            history = [
                Decision(
                    project_id=who.project.id,
                    coder_id=who.user.id,
                    kind=kinds[number % 2],
                    segment_id=f"elsewhere-{number}",
                )
                for number in range(options.history)
            ]
            for start in range(0, len(history), 500):
                groundcode.decisions.append(history[start : start + 500])
            after = measure(groundcode, who)
    print(f"| {options.database} | no history (ms) | {options.history} own decisions (ms) | ratio |")
    print("|---|---|---|---|")
    for what, ms in before.items():
        print(f"| {what} | {ms:.1f} | {after[what]:.1f} | {after[what] / ms:.2f} |")


if __name__ == "__main__":
    main()
