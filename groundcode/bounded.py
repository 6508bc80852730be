"""Run untrusted-file parsing in a child process with a memory and a time bound.

A hostile upload (a zip bomb within the archive limits, a PDF that never ends, a document with a
million paragraphs) can then cost at most one child process for a bounded time: it never holds the
server's event loop, its threads or its memory. Children are forked from a forkserver that has the
parsers imported already, so starting one takes milliseconds; each child runs exactly one call.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable
from functools import cache
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no setrlimit; the time bound still applies
    resource = None  # type: ignore[assignment]

T = TypeVar("T")

# Imported once by the forkserver, so that each child starts with the parsers loaded.
_PRELOAD = ["services.chunking.readers", "groundcode.interchange.refiqda"]
# How long the first child may take to start (the forkserver imports the parsers then); not parse time.
_START_SECONDS = 60.0


class ParseBounds(BaseModel):
    """How much memory (address space) and wall-clock time one parse may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    memory_bytes: int = Field(gt=0)
    seconds: float = Field(gt=0)


class BoundExceededError(RuntimeError):
    """The parse went over a bound, or its process died; ``problem`` says which in plain words."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"{what}: {problem}")
        self.what = what
        self.problem = problem


def run_bounded(bounds: ParseBounds, what: str, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a fresh child process within ``bounds``; blocks the calling thread only.

    The function and its arguments must be picklable (module-level functions, plain data). Exceptions it
    raises are re-raised here; ``BoundExceededError`` names ``what`` when a bound is hit.
    """
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(  # type: ignore[attr-defined]
        target=_child, args=(sender, bounds.memory_bytes, function, args), daemon=True
    )
    process.start()
    sender.close()
    try:
        # The child reports once it runs, so that the time bound counts the parse, not the start-up.
        if not (receiver.poll(_START_SECONDS) and receiver.recv() and receiver.poll(bounds.seconds)):
            raise BoundExceededError(
                what, f"reading it took longer than {bounds.seconds:g} s, so it was stopped and refused"
            )
        succeeded, value = receiver.recv()
    except EOFError:
        process.join()
        raise BoundExceededError(
            what, f"the reader stopped unexpectedly (exit code {process.exitcode}); refused"
        ) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if succeeded:
        return value  # type: ignore[no-any-return]
    if isinstance(value, MemoryError):
        raise BoundExceededError(
            what, f"reading it needs more than {bounds.memory_bytes // 2**20} MB of memory; refused"
        )
    raise value


@cache
def _context() -> BaseContext:
    """A forkserver context where the platform has one (a clean, single-threaded parent), else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _child(
    sender: Connection, memory_bytes: int, function: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    if resource is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    sender.send(True)
    try:
        outcome: tuple[bool, Any] = (True, function(*args))
    except Exception as error:  # handed to the parent, which re-raises it
        outcome = (False, error)
    try:
        sender.send(outcome)
    except (pickle.PicklingError, TypeError, AttributeError) as error:  # an exception that cannot travel
        sender.send((False, RuntimeError(f"{outcome[1]} ({error})")))
    finally:
        sender.close()
