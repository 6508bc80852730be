"""One evaluation from the user's settings to a report folder: the edge where tasks, scores and files meet."""

from __future__ import annotations

from pathlib import Path

from eval.report import Report, RunInfo, axial_report, open_coding_report, write_report
from eval.seeds import PARADIGM_FILE, load
from eval.tasks import AXIAL_TASKS, RunOptions, TaskName, run_axial, run_open_coding
from groundcode.app import Groundcode, open_groundcode
from groundcode.settings import Settings

OPEN_CODING_DESCRIPTION = "seed 000: open coding of the abstract and discussion vs the published concepts"


def evaluate_task(
    task: TaskName, options: RunOptions, base: Settings, data_dir: Path, out: Path
) -> tuple[Report, list[Path]]:
    """Run ``task`` with an embedded store in ``data_dir``, score it, and write its report to ``out``."""
    groundcode = open_groundcode(options.settings(base, data_dir))
    try:
        report = run_task(groundcode, task, options)
    finally:
        groundcode.close()
    return report, write_report(report, out)


def run_task(groundcode: Groundcode, task: TaskName, options: RunOptions) -> Report:
    """``task`` run on ``groundcode`` and scored."""
    if task is TaskName.OPEN_CODING:
        run = run_open_coding(groundcode, load(PARADIGM_FILE))
        info = RunInfo(
            task=task,
            description=OPEN_CODING_DESCRIPTION,
            dataset_file=run.file,
            dataset_version=run.version,
            provenance=run.provenance,
            options=options,
        )
        return open_coding_report(run, info)
    file, build = AXIAL_TASKS[task]
    axial = run_axial(groundcode, build(load(file)), seed=options.seed, limit=options.limit)
    info = RunInfo(
        task=task,
        description=axial.dataset.description,
        dataset_file=axial.dataset.file,
        dataset_version=axial.dataset.version,
        provenance=axial.provenance,
        options=options,
    )
    return axial_report(axial, info)
