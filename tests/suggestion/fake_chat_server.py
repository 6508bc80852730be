"""A scripted OpenAI-compatible chat-completions server for tests and the benchmark.

Each request takes the next ``Reply`` from the script (or asks ``responder``, when the script is
empty) and is recorded, so a test can assert on prompts, on the number of calls, and on timing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

RESOLVED_MODEL = "test-model-2024-11"


@dataclass
class Reply:
    """One scripted reaction: an assistant message, an HTTP error, a delay, or a hang."""

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False  # answer nothing until the client gives up
    prompt_tokens: int = 120
    completion_tokens: int = 30
    finish_reason: str = "stop"  # "length": cut off at max_tokens


def answer(segments: dict[str, Any]) -> Reply:
    """A reply whose content is ``{"segments": segments}`` as JSON."""
    return Reply(content=json.dumps({"segments": segments}, ensure_ascii=False))


@dataclass
class Received:
    body: dict[str, Any]
    at: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return str(self.body["messages"][0]["content"])

    @property
    def user(self) -> str:
        return str(self.body["messages"][1]["content"])


class FakeChatServer:
    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.url = ""  # set by whoever serves app(); ends in /v1
        self.script: deque[Reply] = deque()
        self.responder = responder
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def then(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.received.append(Received(body, time.monotonic(), dict(request.headers)))
            if self.script:
                reply = self.script.popleft()
            elif self.responder is not None:
                reply = self.responder(body)
            else:
                return JSONResponse({"error": {"message": "the test script is exhausted"}}, status_code=500)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await self._react(request, reply)
            finally:
                self.in_flight -= 1

        return app

    async def _react(self, request: Request, reply: Reply) -> Response:
        if reply.hang:
            deadline = time.monotonic() + 30
            while not await request.is_disconnected() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return Response(status_code=499)
        await asyncio.sleep(reply.delay)
        if reply.status != 200:
            error = {"error": {"message": f"scripted {reply.status}", "type": "scripted"}}
            return JSONResponse(error, status_code=reply.status, headers=reply.headers)
        usage = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
        return JSONResponse(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": RESOLVED_MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": usage,
            },
            headers=reply.headers,
        )


_SEGMENT = re.compile(r"^--- segment (S\d+) \(code this\)\n(.*?)\n(?:---|===|END )", re.MULTILINE | re.DOTALL)


def auto_reply(body: dict[str, Any]) -> Reply:
    """A valid answer to any request: per segment, the first allowed code (or a label), quoting the
    first words of the segment as it appears in the prompt."""
    texts = dict(_SEGMENT.findall(body["messages"][1]["content"]))
    schema = body["response_format"].get("json_schema", {}).get("schema") or body["response_format"]["schema"]
    segments: dict[str, Any] = {}
    for label, answer_schema in schema["properties"]["segments"]["properties"].items():
        quote = " ".join(texts[label].split()[:4])
        if "codes" in answer_schema["properties"]:  # per-code mode: the first code applies
            names = list(answer_schema["properties"]["codes"]["properties"])
            decisions = {name: {"rationale": "No.", "applies": False, "quote": ""} for name in names}
            decisions[names[0]] = {"rationale": "It fits.", "applies": True, "quote": quote}
            segments[label] = {"codes": decisions}
            continue
        item = answer_schema["properties"]["suggestions"]["items"]["properties"]
        suggestion = {"rationale": "It fits.", "confidence": 0.8, "quote": quote}
        if "code" in item:
            segments[label] = {
                "none_fits": False,
                "suggestions": [{"code": item["code"]["enum"][0], **suggestion}],
            }
        else:
            segments[label] = {"suggestions": [{"label": "Auto label", **suggestion}]}
    return answer(segments)
