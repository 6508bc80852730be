"""``groundcode eval TASK``: run an evaluation task, print its main numbers and write a report folder."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from eval.tasks import RunOptions, TaskName
from groundcode.settings import Settings

app = typer.Typer(
    help="Benchmark suggestions against published codebooks (see eval/RESULTS.md).", no_args_is_help=True
)
console = Console()

TASK_HELP = {
    TaskName.SUBTHEME_THEME: "Seed 002, Tables 3-5: each sub-theme to its main theme (multi-label gold).",
    TaskName.CODE_IMAGE: "Seed 002, Table 2: each initial code to its image (multi-label gold).",
    TaskName.CONCEPT_COMPONENT: "Seed 000: each concept to its paradigm-model component.",
    TaskName.OPEN_CODING: "Seed 000: open coding of the abstract and discussion vs the published concepts.",
}


class Backend(StrEnum):
    OFFLINE = "offline"
    LLM = "llm"


def _task_command(task: TaskName) -> Callable[..., None]:
    def command(
        backend: Annotated[
            Backend, typer.Option(help="'offline' (no language model) or 'llm'.")
        ] = Backend.OFFLINE,
        model: Annotated[
            str | None,
            typer.Option(help="litellm chat model, e.g. openai/gpt-4o-mini; implies --backend llm."),
        ] = None,
        api_base: Annotated[str | None, typer.Option(help="Base URL of an OpenAI-compatible server.")] = None,
        out: Annotated[Path | None, typer.Option(help="Report folder (default: eval-reports/TASK).")] = None,
        seed: Annotated[
            int, typer.Option(help="Seeds the unit order, --limit's sample and the bootstrap.")
        ] = 0,
        limit: Annotated[
            int | None, typer.Option(help="Score at most this many units (a seeded sample).")
        ] = None,
        resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals.")] = 1000,
        threshold: Annotated[
            float | None,
            typer.Option(
                help="open-coding: similarity a label needs to recover a concept (default: derived)."
            ),
        ] = None,
    ) -> None:
        options = RunOptions(
            backend=(Backend.LLM if model else backend).value,
            model=model,
            api_base=api_base,
            seed=seed,
            limit=limit,
            resamples=resamples,
            threshold=threshold,
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
    # Imported here: scikit-learn, scipy and matplotlib take seconds to load, and every other groundcode
    # command would pay for them.
    from eval.report import headline
    from eval.runs import evaluate_task

    with tempfile.TemporaryDirectory(prefix="groundcode-eval-") as data_dir:
        report, written = evaluate_task(task, options, Settings(), Path(data_dir), out)
    table = Table(title=f"{task.value}: {report.info.description}")
    for column in ("metric", "value", "95% interval or note"):
        table.add_column(column)
    for row in headline(report):
        table.add_row(*row)
    console.print(table)
    info = report.info
    console.print(
        f"backend {info.provenance.backend}, model {info.provenance.model or 'none'}, dataset "
        f"{info.dataset_file} version {info.dataset_version}, seed {info.options.seed}"
    )
    console.print(f"Report: {written[0].parent}")
