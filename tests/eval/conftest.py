"""The suggestion tests' fixtures, shared: the bundled E5 model and the scripted OpenAI-compatible server."""

from __future__ import annotations

from tests.suggestion.conftest import chat_server, e5

__all__ = ["chat_server", "e5"]
