"""The tasks through the real services (embedded SQLite and Chroma, the bundled E5, the offline backend),
on small subsets, and the report folder they produce."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.report import (
    AxialReport,
    RunInfo,
    axial_report,
    open_coding_report,
    to_markdown,
    write_report,
)
from eval.runs import run_task
from eval.seeds import PARADIGM_FILE, TaskName, concept_to_component, load
from eval.tasks import Provenance, RunOptions, choose_units, run_axial, run_open_coding
from groundcode.app import Groundcode, open_groundcode
from groundcode.settings import Settings
from services.retrieval.embeddings import LocalE5Embedder
from services.suggestion.llm import check_destination

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def groundcode(tmp_path: Path, e5: LocalE5Embedder) -> Iterator[Groundcode]:
    opened = open_groundcode(RunOptions().settings(Settings(), tmp_path / "data"))
    opened.embedder = e5
    yield opened
    opened.close()


def test_units_are_shuffled_by_the_seed_and_limited() -> None:
    units = concept_to_component(load(PARADIGM_FILE)).units

    assert choose_units(units, seed=1) == choose_units(units, seed=1)
    assert choose_units(units, seed=1) != choose_units(units, seed=2)
    assert sorted(u.text for u in choose_units(units, seed=1)) == sorted(u.text for u in units)
    assert choose_units(units, seed=1, limit=5) == choose_units(units, seed=1)[:5]


def test_axial_assignment_suggests_a_parent_for_every_unit(groundcode: Groundcode) -> None:
    dataset = concept_to_component(load(PARADIGM_FILE))

    run = run_axial(groundcode, dataset, seed=7, limit=8)

    assert [p.text for p in run.predictions] == [u.text for u in choose_units(dataset.units, seed=7, limit=8)]
    parents = {parent.name for parent in dataset.parents}
    gold = {unit.text: unit.gold for unit in dataset.units}
    for prediction in run.predictions:
        assert prediction.gold == gold[prediction.text]
        assert set(prediction.ranked) <= parents and len(prediction.ranked) == len(prediction.confidences)
        assert prediction.confidences == sorted(prediction.confidences, reverse=True)
    assert sum(bool(p.ranked) for p in run.predictions) >= 6
    assert run.provenance.model_dump() == {"backend": "offline", "model": "offline-v2", "prompt_versions": []}
    report = axial_report(run, _info(TaskName.CONCEPT_COMPONENT, RunOptions(limit=8, resamples=20)))
    right = sum(bool(p.ranked) and p.ranked[0] in p.gold for p in run.predictions)
    assert report.scores.accuracy.value == pytest.approx(right / 8)
    assert report.codes == [parent.name for parent in dataset.parents]


def test_open_coding_recovers_concepts_the_text_names(groundcode: Groundcode, tmp_path: Path) -> None:
    run = run_open_coding(groundcode, load(PARADIGM_FILE))

    assert run.labels and len(run.published) == 30
    assert len(run.similarity) == len(run.labels) and len(run.similarity[0]) == 30
    report = open_coding_report(run, _info(TaskName.OPEN_CODING, RunOptions()))
    # The derived threshold is the closest two distinct published concepts come to each other.
    assert 0.9 < report.coverage.threshold < 1.0
    assert report.coverage.matched == len(report.matches) >= 1
    assert {"strategy development", "increasing transparency"} <= {m.concept for m in report.matches}
    assert len(report.unmatched_concepts) == 30 - report.coverage.matched
    fixed = open_coding_report(run, _info(TaskName.OPEN_CODING, RunOptions(threshold=0.5)))
    assert fixed.coverage.threshold == 0.5 and fixed.threshold_rule == "given on the command line"
    written = write_report(report, tmp_path)
    assert {path.name for path in written} == {"report.md", "report.json", "threshold_sweep.png"}
    assert "Published concepts recovered" in to_markdown(report)


def test_a_report_folder_has_markdown_json_and_plots(groundcode: Groundcode, tmp_path: Path) -> None:
    options = RunOptions(seed=3, limit=6, resamples=30)

    report = run_task(groundcode, TaskName.CODE_IMAGE, options)
    written = write_report(report, tmp_path / "report")

    assert isinstance(report, AxialReport) and report.scores.units == 6
    names = {path.name for path in written}
    assert names == {"report.md", "report.json", "confusion.png", "per_code_f1.png", "reliability.png"}
    assert all(path.read_bytes().startswith(PNG) for path in written if path.suffix == ".png")
    stored = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert AxialReport.model_validate(stored).model_dump_json() == report.model_dump_json()  # nan as null
    info = stored["info"]
    assert (
        info["dataset_file"] == "seed002_initial_codes.yaml"
        and info["dataset_version"] == load(info["dataset_file"]).version
    )
    assert info["provenance"] == {"backend": "offline", "model": "offline-v2", "prompt_versions": []}
    assert info["options"]["seed"] == 3
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "groundcode eval code-image --backend offline --seed 3 --limit 6 --resamples 30" in markdown
    assert load(info["dataset_file"]).version in markdown and "تصویر سیاسی" in markdown


def _info(task: TaskName, options: RunOptions) -> RunInfo:
    return RunInfo(
        task=task,
        description="test",
        dataset_file=PARADIGM_FILE,
        dataset_version=load(PARADIGM_FILE).version,
        provenance=Provenance(backend="offline", model="offline-v2", prompt_versions=[]),
        options=options,
    )


def test_eval_may_send_its_published_texts_to_a_hosted_model(tmp_path: Path) -> None:
    settings = RunOptions(model="openai/gpt-4o-mini").settings(Settings(), tmp_path)

    assert settings.suggestion_backend == "llm" and settings.llm_model == "openai/gpt-4o-mini"
    assert settings.data_dir == tmp_path and settings.database_url is None
    assert check_destination(
        settings.llm_model, settings.llm_api_base, allow_remote=settings.llm_allow_remote
    )
