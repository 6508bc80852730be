"""One evaluation from the user's settings to a report folder: the edge where tasks, scores and files meet."""

from __future__ import annotations

from pathlib import Path

from eval.dataset import (
    DatasetOptions,
    DatasetReport,
    Vectors,
    dataset_report,
    embed_dataset,
    load_dataset,
    run_repeat,
    write_dataset_report,
)
from eval.projects import (
    ProjectData,
    ProjectInfo,
    ProjectOptions,
    ProjectReport,
    copy_project,
    gold_codes,
    model_answers,
    project_report,
    read_project,
    shown_suggestions,
    write_project_report,
)
from eval.report import Report, RunInfo, axial_report, open_coding_report, write_report
from eval.seeds import PARADIGM_FILE, TaskName, load
from eval.simulation import (
    SimulationOptions,
    SimulationReport,
    SimulationRun,
    run_simulation,
    simulation_report,
    write_simulation_report,
)
from eval.tasks import (
    AXIAL_TASKS,
    RunOptions,
    choose_units,
    provenance,
    run_axial,
    run_open_coding,
    setup_axial,
    suggest_codes,
)
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


def simulate(
    options: SimulationOptions, base: Settings, data_dir: Path, out: Path
) -> tuple[SimulationReport, list[Path]]:
    """Simulate reviewing a seed task's units, or a user project's coded segments (read with ``base``), in an
    embedded store in ``data_dir``, and write the report to ``out``."""
    seed_task = next((task for task in AXIAL_TASKS if task.value == options.dataset), None)
    if seed_task and options.reference:
        raise ValueError("--reference names a coder of a project; a seed task has one gold coding")
    project = None if seed_task else read_user_project(base, options.dataset)
    # A user project's texts go to a remote model only with the user's consent (their settings say).
    allow_remote = project is None or base.llm_allow_remote
    groundcode = open_groundcode(options.settings(base, data_dir, allow_remote=allow_remote))
    try:
        if project is None:
            assert seed_task is not None
            run = _simulate_seed_task(groundcode, seed_task, options)
        else:
            run = _simulate_project(groundcode, project, options)
    finally:
        groundcode.close()
    report = simulation_report(run, options)
    return report, write_simulation_report(report, out)


def _simulate_seed_task(groundcode: Groundcode, task: TaskName, options: SimulationOptions) -> SimulationRun:
    file, build = AXIAL_TASKS[task]
    dataset = build(load(file))
    units = choose_units(dataset.units, seed=options.seed, limit=options.limit)
    setup = setup_axial(groundcode, dataset, [unit.text for unit in units])
    return run_simulation(
        groundcode,
        setup,
        [unit.gold for unit in units],
        steps=options.steps,
        dataset=options.dataset,
        description=dataset.description,
        dataset_file=dataset.file,
        dataset_version=dataset.version,
    )


def _simulate_project(groundcode: Groundcode, data: ProjectData, options: SimulationOptions) -> SimulationRun:
    """The answered segments in source order; gold: the reference coder's answer (the segments they
    answered), else the codes any researcher gave; "no code applies" where that is the answer."""
    reference = options.reference
    if reference is not None and not any(reference in unit.coders for unit in data.units):
        raise ValueError(f"reference coder {reference!r} answered no unit of project {data.project.name!r}")
    answered = [(unit, gold_codes(unit, data.codebook, reference)) for unit in data.units]
    kept = [(unit, gold) for unit, gold in answered if gold is not None][: options.limit]
    setup = copy_project(groundcode, data, [unit for unit, _ in kept])
    said = f"{reference}'s answers" if reference else "the codes researchers gave"
    return run_simulation(
        groundcode,
        setup,
        [gold for _, gold in kept],
        steps=options.steps,
        dataset=options.dataset,
        description=f"project {data.project.name!r}: its answered segments, gold: {said}",
    )


def evaluate_project(
    options: ProjectOptions, base: Settings, data_dir: Path, out: Path
) -> tuple[ProjectReport, list[Path]]:
    """Score a user project's human codings (read with ``base``) against each other and against suggestions
    made in an embedded store in ``data_dir``; write the report to ``out``."""
    data = read_user_project(base, options.project)
    groundcode = open_groundcode(options.settings(base, data_dir, allow_remote=base.llm_allow_remote))
    try:
        setup = copy_project(groundcode, data, data.units)
        suggestions = suggest_codes(groundcode, setup)
        # Nobody decided in the copy: the suggestions every coder sees.
        answers = model_answers(setup.segments, shown_suggestions(groundcode, setup), setup.codebook)
        info = ProjectInfo(provenance=provenance(groundcode, suggestions), options=options)
    finally:
        groundcode.close()
    report = project_report(data.units, answers, data.codebook, info)
    return report, write_project_report(report, out)


def read_user_project(base: Settings, name: str) -> ProjectData:
    """The project's codebook and human codings, from the user's database."""
    groundcode = open_groundcode(base, create=False)
    try:
        return read_project(groundcode, name)
    finally:
        groundcode.close()


def evaluate_dataset(
    options: DatasetOptions, base: Settings, data_dir: Path, out: Path
) -> tuple[DatasetReport, list[Path]]:
    """Benchmark a coded dataset: one simulated review per repeat, each in a fresh embedded store under
    ``data_dir`` (embeddings come from the shared cache); write the report to ``out``. The texts go to a
    remote model only if the user's settings consent."""
    dataset = load_dataset(options)
    runs = []
    vectors: Vectors | None = None
    for repeat in range(options.repeats):
        settings = options.settings(base, data_dir / f"repeat-{repeat}", allow_remote=base.llm_allow_remote)
        groundcode = open_groundcode(settings)
        try:
            vectors = vectors or embed_dataset(groundcode, dataset)
            runs.append(run_repeat(groundcode, dataset, vectors, options, repeat))
        finally:
            groundcode.close()
    assert vectors is not None  # at least one repeat
    report = dataset_report(dataset, runs, vectors, options)
    return report, write_dataset_report(report, out)
