"""Run an ASGI app under a real uvicorn server on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from groundcode.app import open_groundcode
from groundcode.domain import Role
from groundcode.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: FastAPI, *, timeout_seconds: float = 20.0) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_seconds
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_seconds)


def poll_until(
    fetch: Callable[[], T], done: Callable[[T], bool], what: str, timeout_seconds: float = 60
) -> T:
    """Call ``fetch`` until ``done`` accepts its answer, and return it; on timeout, fail naming ``what``."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        answer = fetch()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_seconds:.0f} s")
        time.sleep(0.05)


def api_token(
    settings: Settings,
    username: str = "researcher",
    *,
    projects: Sequence[str] = (),
    role: Role = Role.OWNER,
    admin: bool = False,
) -> dict[str, str]:
    """Authorization headers of a (new or existing) user with ``role`` in each of ``projects``; an
    ``admin`` (instance administrator) may also call the operations routes (``/work-items``, ``/metrics``)."""
    groundcode = open_groundcode(settings)
    try:
        user = groundcode.accounts.find_user(username) or groundcode.accounts.add_user(username)
        if admin:
            groundcode.accounts.set_admin(username, True)
        for name in projects:
            project = groundcode.repository.ensure_project(name)
            groundcode.accounts.set_member(project.id, user.id, role)
        return {"Authorization": f"Bearer {groundcode.accounts.issue_token(user.id)}"}
    finally:
        groundcode.close()
