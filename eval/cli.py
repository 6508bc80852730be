"""``groundcode eval TASK``: run an evaluation task, print its main numbers and write a report folder."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from eval.seeds import TaskName
from groundcode.domain import Stage
from groundcode.errors import NoDatabaseError, NotFoundError
from groundcode.settings import Settings

# The evaluation's machinery (the services, scikit-learn, scipy, matplotlib) is imported inside the commands
# that run it: every other groundcode command, and --help, would pay seconds for it.
if TYPE_CHECKING:
    from eval.tasks import Provenance, RunOptions

app = typer.Typer(
    help="Benchmark suggestions against published codebooks and your own coding (see eval/README.md).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)
_Result = TypeVar("_Result")

TASK_HELP = {
    TaskName.SUBTHEME_THEME: "Seed 002, Tables 3-5: each sub-theme to its main theme (multi-label gold).",
    TaskName.CODE_IMAGE: "Seed 002, Table 2: each initial code to its image (multi-label gold).",
    TaskName.CONCEPT_COMPONENT: "Seed 000: each concept to its paradigm-model component.",
    TaskName.OPEN_CODING: "Seed 000: open coding of the abstract and discussion vs the published concepts.",
}


class Backend(StrEnum):
    OFFLINE = "offline"
    LLM = "llm"


class DatasetOrder(StrEnum):
    SOURCE = "source"
    RANDOM = "random"
    UNCERTAIN = "uncertain"


BackendOption = Annotated[Backend, typer.Option(help="'offline' (no language model) or 'llm'.")]
ModelOption = Annotated[
    str | None, typer.Option(help="litellm chat model, e.g. openai/gpt-4o-mini; implies --backend llm.")
]
ApiBaseOption = Annotated[str | None, typer.Option(help="Base URL of an OpenAI-compatible server.")]
OutOption = Annotated[Path | None, typer.Option(help="Report folder (default: eval-reports/NAME).")]
SeedOption = Annotated[int, typer.Option(help="Seeds the unit order, --limit's sample and the bootstrap.")]
ResamplesOption = Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals.")]
ReferenceOption = Annotated[
    str | None,
    typer.Option(
        help="A researcher (username) whose answers are the reference: every other coder and the model are "
        "scored against them (default: every pair of researchers, and the model against each)."
    ),
]
ProjectOption = Annotated[
    str, typer.Option("--project", "-p", envvar="GROUNDCODE_PROJECT", help="Project (study) name.")
]


def _task_command(task: TaskName) -> Callable[..., None]:
    def command(
        backend: BackendOption = Backend.OFFLINE,
        model: ModelOption = None,
        api_base: ApiBaseOption = None,
        out: OutOption = None,
        seed: SeedOption = 0,
        limit: Annotated[
            int | None, typer.Option(help="Score at most this many units (a seeded sample).")
        ] = None,
        resamples: ResamplesOption = 1000,
        threshold: Annotated[
            float | None,
            typer.Option(
                help="open-coding: similarity a label needs to recover a concept (default: derived)."
            ),
        ] = None,
    ) -> None:
        from eval.tasks import RunOptions

        options = RunOptions(
            **_backend(backend, model, api_base, seed), limit=limit, resamples=resamples, threshold=threshold
        )
        evaluate(task, options, out or Path("eval-reports") / task.value)

    command.__doc__ = (
        f"{TASK_HELP[task]} Runs the real import, chunk, index and suggest stages in a temporary "
        "database and writes report.md, report.json and plots."
    )
    return command


for _task in TaskName:
    app.command(_task.value)(_task_command(_task))


def evaluate(task: TaskName, options: RunOptions, out: Path) -> None:
    """Run ``task``, print its main numbers and write its report to ``out``."""
    from eval.report import headline
    from eval.runs import evaluate_task

    report, written = _in_temporary_store(
        lambda data_dir: evaluate_task(task, options, Settings(), data_dir, out)
    )
    _print_table(
        f"{task.value}: {report.info.description}",
        ("metric", "value", "95% interval or note"),
        headline(report),
    )
    info = report.info
    console.print(
        f"backend {info.provenance.backend}, model {info.provenance.model or 'none'}, dataset "
        f"{info.dataset_file} version {info.dataset_version}, seed {info.options.seed}"
    )
    console.print(f"Report: {written[0].parent}")


@app.command("simulate-review")
def simulate_review(
    dataset: Annotated[
        str,
        typer.Option(
            help="subtheme-theme, code-image, concept-component, or the name of a project with human codings."
        ),
    ],
    steps: Annotated[
        int, typer.Option(min=1, help="Learn and suggest again after each 1/STEPS of the units.")
    ] = 10,
    backend: BackendOption = Backend.OFFLINE,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    out: OutOption = None,
    seed: SeedOption = 0,
    limit: Annotated[
        int | None, typer.Option(help="Review at most this many units (seed tasks: a seeded sample).")
    ] = None,
    resamples: ResamplesOption = 1000,
    reference: Annotated[
        str | None,
        typer.Option(
            help="A project's researcher whose answers are gold (default: the codes any researcher gave)."
        ),
    ] = None,
) -> None:
    """Replay a dataset through the adjudication service with a simulated researcher (accept every correct
    candidate, reject the others above the last correct one, code missing codes by hand, or decide "no code
    applies"), learning from its decisions after each step: accept rate, decisions per unit, rank of the
    correct candidates and the learning curve. Runs in a temporary database; a user project is only read."""
    from eval.runs import simulate
    from eval.simulation import SimulationOptions, headline

    options = SimulationOptions(
        **_backend(backend, model, api_base, seed),
        dataset=dataset,
        reference=reference,
        steps=steps,
        limit=limit,
        resamples=resamples,
    )
    folder = out or Path("eval-reports") / "simulate-review" / dataset
    report, written = _in_temporary_store(lambda data_dir: simulate(options, Settings(), data_dir, folder))
    columns = ("metric", "with learning", "first suggestions only, or note")
    _print_table(f"simulated review: {report.info.description}", columns, headline(report))
    _print_provenance(report.info.provenance)
    console.print(f"Report: {written[0].parent}")


@app.command("dataset")
def dataset_command(
    units: Annotated[
        Path,
        typer.Argument(help="CSV: a text column, optional id, one column per coder (codes separated by ;)."),
    ],
    codebook: Annotated[Path, typer.Option(help="The codebook (YAML, JSON, CSV or REFI-QDA .qdc).")],
    coders: Annotated[str, typer.Option(help="The coder columns, comma-separated, e.g. alice,bob.")],
    gold: Annotated[str | None, typer.Option(help="The reference coder (default: the first).")] = None,
    group_column: Annotated[
        str | None,
        typer.Option(help="Column naming the parent code whose children are a unit's only possible codes."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Learn and suggest again after each 1/STEPS.")] = 10,
    order: Annotated[
        DatasetOrder, typer.Option(help="Review order: CSV order, seeded random, or least margin first.")
    ] = DatasetOrder.SOURCE,
    repeats: Annotated[int, typer.Option(min=1, help="Simulated reviews, averaged.")] = 3,
    backend: BackendOption = Backend.OFFLINE,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    out: OutOption = None,
    seed: SeedOption = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N units.")] = None,
    resamples: ResamplesOption = 1000,
) -> None:
    """Benchmark any coded dataset: the real import, chunk, index, suggest, adjudicate and learn stages in a
    temporary database, a simulated researcher reviewing in steps, scores as the literature reports them
    (top-1, top-3 recall, per-code kappa, macro F1, alpha, AC1, abstentions), the coders' own agreement and
    two baselines. Writes report.json and report.md."""
    from eval.dataset import DatasetOptions
    from eval.report import number
    from eval.runs import evaluate_dataset

    options = DatasetOptions(
        **_backend(backend, model, api_base, seed),
        units_file=str(units),
        codebook=str(codebook),
        coders=[coder.strip() for coder in coders.split(",") if coder.strip()],
        gold=gold,
        group_column=group_column,
        steps=steps,
        order=order.value,
        repeats=repeats,
        limit=limit,
        resamples=resamples,
    )
    folder = out or Path("eval-reports") / "dataset" / units.stem
    report, written = _in_temporary_store(
        lambda data_dir: evaluate_dataset(options, Settings(), data_dir, folder)
    )
    first, nearest = report.first, report.baselines.nearest_code
    _print_table(
        f"{units}: {report.units} units, {len(report.codes)} codes, gold {report.gold}",
        ("first suggestions", "groundcode", "nearest-code baseline"),
        [
            (name, number(getattr(first, name).value), number(getattr(nearest, name).value))
            for name in ("top1", "top3_recall", "per_code_kappa", "macro_f1", "alpha", "ac1", "abstained")
        ],
    )
    review = report.review
    console.print(
        f"decisions per unit {number(review.decisions_per_unit)} "
        f"(first suggestions {number(review.first_decisions_per_unit)})"
    )
    _print_provenance(report.info.provenance)
    console.print(f"Report: {written[0].parent}")


@app.command("project")
def project_command(
    project: ProjectOption = "default",
    backend: BackendOption = Backend.OFFLINE,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="The model's set of codes: every suggestion at or above this confidence (default: the "
            "suggestions flagged as applying).",
        ),
    ] = None,
    reference: ReferenceOption = None,
    out: OutOption = None,
    seed: SeedOption = 0,
    resamples: ResamplesOption = 1000,
) -> None:
    """Score a project's human codings (imported with 'groundcode codings import' or 'groundcode project
    import', or made on the review page, "no code applies" included) as 'groundcode eval dataset' scores
    them: per-code kappa, macro F1, alpha and AC1 on each unit's set of codes, and the model's top-1, top-3
    recall and abstentions, each researcher and the model against the reference (or every pair). The
    suggestions are made in a temporary copy of the project; its texts go to a remote model only if
    GROUNDCODE_LLM_ALLOW_REMOTE allows it."""
    from eval.projects import AGREEMENT_COLUMNS, ProjectOptions, agreement_rows
    from eval.report import estimate_cells
    from eval.runs import evaluate_project

    options = ProjectOptions(
        **_backend(backend, model, api_base, seed),
        project=project,
        reference=reference,
        threshold=threshold,
        resamples=resamples,
    )
    folder = out or Path("eval-reports") / "project" / project
    report, written = _in_temporary_store(
        lambda data_dir: evaluate_project(options, Settings(), data_dir, folder)
    )
    scores = report.scores
    columns = ("reference", "coder", "units", "per-code kappa", "alpha", "top-1", "abstained")
    picked = [AGREEMENT_COLUMNS.index(column) for column in columns]
    _print_table(
        f"project {project}: {scores.units} answered segments",
        columns,
        [tuple(row[i] for i in picked) for row in agreement_rows(scores, intervals=False)],
    )
    alpha, interval = estimate_cells(scores.alpha_all)
    console.print(f"Krippendorff's alpha, researchers and the model: {alpha} (95% interval {interval}).")
    console.print("Macro F1, AC1, top-3 recall, span IoU and the 95% intervals are in report.md.")
    _print_provenance(report.info.provenance)
    console.print(f"Report: {written[0].parent}")


codings_app = typer.Typer(
    help="Human codings into a project, to score them with 'groundcode eval project'.", no_args_is_help=True
)


@codings_app.command("import")
def codings_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns text, code, and optionally coder, source.")],
    project: ProjectOption = "default",
    coder: Annotated[
        str | None, typer.Option(help="Username for rows without a coder (or a file without the column).")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Refuse the file if a code is not in the codebook (default: add it).")
    ] = False,
    csv_id_column: Annotated[
        str | None,
        typer.Option(
            help="Column with the unit's id (the respondent id of 'groundcode import --csv-id-column'); "
            "the text is then looked for in that unit, and a row without text codes the whole unit."
        ),
    ] = None,
) -> None:
    """Import human codings: each row's text is found in the project's sources (exactly, else ignoring
    spelling variants such as Arabic/Persian letters and half-spaces; a text equal to a whole unit codes that
    unit) and coded on its segment by its coder (an account without a password, made a coder of the
    project). Rows that cannot be found are listed; a malformed file imports nothing."""
    from eval.codings import CodingsFileError, import_codings
    from groundcode.app import open_groundcode
    from groundcode.cli import _process  # imported here: groundcode.cli imports this module

    try:
        opened = open_groundcode(Settings(), create=False)
    except NoDatabaseError as error:
        raise _fail(str(error)) from error
    with closing(opened) as groundcode:
        try:
            target = groundcode.repository.get_project(project)
            data = file.read_bytes()
            result = import_codings(
                groundcode,
                target,
                data,
                where=str(file),
                default_coder=coder,
                strict=strict,
                id_column=csv_id_column,
            )
        except (NotFoundError, CodingsFileError, OSError) as error:
            raise _fail(f"nothing imported: {error}") from error
        console.print(
            f"Project [bold]{escape(result.project)}[/bold]: {result.rows} rows, {result.located} found "
            f"({result.normalized} only ignoring spelling variants)"
        )
        console.print(f"  codings: {len(result.stored)} imported, {result.known} already there")
        if result.new_codes:
            console.print(f"  codes added to the codebook: {escape(', '.join(result.new_codes))}")
        if result.new_accounts:
            console.print(f"  new accounts (no password): {escape(', '.join(result.new_accounts))}")
        for item in result.unlocated:
            errors.print(f"[yellow]row {item.row} not imported:[/yellow] {escape(item.reason)}")
        if result.codebook_id is not None:
            asyncio.run(_process(groundcode, Stage.INDEX_CODEBOOK, [result.codebook_id], wait=True))
        asyncio.run(_process(groundcode, Stage.LEARN, result.stored, wait=True))


def _backend(backend: Backend, model: str | None, api_base: str | None, seed: int) -> dict[str, Any]:
    """The ``BackendOptions`` fields from the command line (a model implies the llm backend)."""
    return {
        "backend": (Backend.LLM if model else backend).value,
        "model": model,
        "api_base": api_base,
        "seed": seed,
    }


def _in_temporary_store(run: Callable[[Path], _Result]) -> _Result:
    """``run`` with a temporary data folder for the evaluation's database and vector store; a project that
    cannot be read, or has nothing to evaluate, ends the command with its reason."""
    with tempfile.TemporaryDirectory(prefix="groundcode-eval-") as data_dir:
        try:
            return run(Path(data_dir))
        except (NotFoundError, ValueError) as error:
            raise _fail(str(error)) from error


def _print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _print_provenance(provenance: Provenance) -> None:
    console.print(f"backend {provenance.backend}, model {provenance.model or 'none'}")


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=1)
