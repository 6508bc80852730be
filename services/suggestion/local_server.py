"""``groundcode llm serve``: a local chat model behind an OpenAI-compatible endpoint on loopback.

Backed by the prebuilt llama.cpp server of the ``xllamacpp`` wheel (MIT; ``pip install
'groundcode[local-llm]'``, no compiling). Point the llm backend at it with ``GROUNDCODE_LLM_API_BASE``;
text never leaves the machine.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

LOOPBACK = "127.0.0.1"

llm_app = typer.Typer(help="A local chat model for the llm suggestion backend.", no_args_is_help=True)


@dataclass(frozen=True)
class ServeOptions:
    model: Path
    port: int = 8011
    ctx: int = 4096
    threads: int = 2
    alias: str = "local"


def api_base(options: ServeOptions) -> str:
    """What ``GROUNDCODE_LLM_API_BASE`` should be for a server started with ``options``."""
    return f"http://{LOOPBACK}:{options.port}/v1"


def server_params(options: ServeOptions) -> Any:
    """The llama.cpp server parameters: loopback only, one slot (CPU inference answers one call at a time),
    prompt prefixes cached between calls (groundcode's prompts put the shared part first)."""
    import xllamacpp  # the local-llm extra: groundcode runs without it

    params = xllamacpp.CommonParams()
    params.model.path = str(options.model)
    params.model_alias = {options.alias}
    params.n_ctx = options.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = options.threads
    params.cpuparams_batch.n_threads = options.threads
    params.port = options.port
    params.hostnames = [LOOPBACK]
    params.cache_prompt = True
    params.warmup = False
    return params


def run(options: ServeOptions, stop: threading.Event) -> None:
    """Serve until ``stop`` is set. Raises ``FileNotFoundError`` for a missing model file."""
    if not options.model.is_file():
        raise FileNotFoundError(f"no model file at {options.model}")
    import xllamacpp

    server = xllamacpp.Server(server_params(options))  # listens until it is garbage-collected
    typer.echo(
        f"serving {options.model.name} at {api_base(options)}\n"
        f"  export GROUNDCODE_LLM_API_BASE={api_base(options)} GROUNDCODE_LLM_CONCURRENCY=1 "
        f"GROUNDCODE_LLM_TIMEOUT_SECONDS=600\n"
        f"  groundcode suggest -p PROJECT --model openai/{options.alias}"
    )
    stop.wait()
    del server


@llm_app.command("serve")
def serve(
    model: Annotated[Path, typer.Option("--model", help="A GGUF model file.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8011,
    ctx: Annotated[int, typer.Option(help="Context size in tokens.")] = 4096,
    threads: Annotated[int, typer.Option(help="CPU threads.")] = 2,
    alias: Annotated[str, typer.Option(help="The model name the server answers to.")] = "local",
) -> None:
    """Serve a GGUF model on loopback with an OpenAI-compatible API (Ctrl-C stops it)."""
    stop = threading.Event()
    for received in (signal.SIGINT, signal.SIGTERM):
        signal.signal(received, lambda *_: stop.set())
    try:
        run(ServeOptions(model=model, port=port, ctx=ctx, threads=threads, alias=alias), stop)
    except FileNotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    except ModuleNotFoundError as error:
        typer.echo("xllamacpp is not installed: pip install 'groundcode[local-llm]'", err=True)
        raise typer.Exit(2) from error
