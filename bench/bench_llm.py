"""LLM suggestion throughput and prompt size, against the scripted chat server with simulated latency.

    PYTHONPATH=. .venv/bin/python bench/bench_llm.py                  # 1 s latency; concurrency 1, 8, 32
    PYTHONPATH=. .venv/bin/python bench/bench_llm.py --latency 0.5 --seconds 4

Segments are the interviewee turns of the bundled Persian sample, coded deductively with seed 002's
sub-theme codebook (``eval/datasets/seed002_themes.yaml``). Prompt tokens are counted with
``litellm.token_counter`` (for ``openai/test-model`` that is tiktoken's cl100k_base, bundled with
litellm: nothing is downloaded). The top-10 candidates come from a word-overlap ranking standing in for
retrieval; only their size matters here. Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path

import yaml

from services.suggestion.llm import LiteLLMBackend, LiteLLMConfig  # first: sets litellm's offline switches

# isort: split
import litellm

from groundcode.domain import derived_id
from groundcode.textnorm import normalize_for_matching
from services.suggestion.models import CandidateCode, Mode, SuggestionRequest, response_schema
from services.suggestion.prompts import load_template, new_boundary, render_messages
from tests.live_server import serve_in_thread
from tests.suggestion.fake_chat_server import FakeChatServer, auto_reply

CODEBOOK = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "seed002_themes.yaml"
MODEL = "openai/test-model"


def seed002_codes() -> tuple[list[CandidateCode], int]:
    """The sub-themes as codes, defined by their main theme and dimension; also the rows in the file.

    Five sub-themes are listed under two main themes; the model answers with names, so each keeps its
    first entry."""
    codes: dict[str, CandidateCode] = {}
    rows = 0
    for dimension in yaml.safe_load(CODEBOOK.read_text(encoding="utf-8")):
        for theme in dimension["themes"]:
            for name in theme["sub_themes"]:
                rows += 1
                codes.setdefault(
                    name,
                    CandidateCode(
                        code_id=derived_id("seed002", name),
                        name=name,
                        definition=f"{dimension['dimension']} › {theme['name']}",
                    ),
                )
    return list(codes.values()), rows


def interviewee_turns() -> tuple[str, list[tuple[int, str]]]:
    """The Persian sample's text and its interviewee turns as (offset, text)."""
    text = (resources.files("groundcode") / "samples" / "interview_02_fa.txt").read_text(encoding="utf-8")
    turns, offset = [], 0
    for paragraph in text.split("\n\n"):
        start = text.index(paragraph, offset)
        offset = start + len(paragraph)
        if paragraph.startswith("مصاحبه‌شونده:"):
            turns.append((start, paragraph.strip()))
    return text, turns


def top_candidates(text: str, codes: Sequence[CandidateCode], k: int) -> list[CandidateCode]:
    words = set(normalize_for_matching(text).split())

    def overlap(code: CandidateCode) -> int:
        return len(words & set(normalize_for_matching(f"{code.name} {code.definition}").split()))

    return sorted(codes, key=overlap, reverse=True)[:k]


def make_requests(count: int, codes: Sequence[CandidateCode], k: int) -> list[SuggestionRequest]:
    _, turns = interviewee_turns()
    requests = []
    for n in range(count):
        start, text = turns[n % len(turns)]
        requests.append(
            SuggestionRequest(
                segment_id=f"seg-{n}",
                segment_start=start,
                text=text,
                speaker="مصاحبه‌شونده",
                language="fa",
                mode=Mode.DEDUCTIVE,
                candidates=top_candidates(text, codes, k),
                codebook_id="seed002",
                codebook_version=1,
            )
        )
    return requests


def prompt_tokens(requests: Sequence[SuggestionRequest], batch_size: int) -> tuple[float, float]:
    """Mean (message tokens, schema tokens) per segment when ``batch_size`` segments share a prompt."""
    template = load_template(Mode.DEDUCTIVE)
    messages_total = schema_total = 0
    for start in range(0, len(requests), batch_size):
        batch = {f"S{n}": r for n, r in enumerate(requests[start : start + batch_size], start=1)}
        messages = render_messages(template, batch, new_boundary([]))
        messages_total += litellm.token_counter(model=MODEL, messages=messages)
        schema = json.dumps(response_schema(Mode.DEDUCTIVE, batch), ensure_ascii=False)
        schema_total += litellm.token_counter(model=MODEL, text=schema)
    return messages_total / len(requests), schema_total / len(requests)


async def throughput(
    url: str, requests: Sequence[SuggestionRequest], concurrency: int, batch_size: int
) -> float:
    config = LiteLLMConfig(
        model=MODEL,
        api_base=url,
        api_key="bench",
        concurrency=concurrency,
        batch_size=batch_size,
        max_retries=0,
    )
    backend = LiteLLMBackend(config)  # no cache: every segment is asked
    started = time.monotonic()
    results = await backend.suggest(requests)
    elapsed = time.monotonic() - started
    assert all(result.suggestions for result in results), "every segment should get its suggestion"
    return len(requests) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="Seconds the server takes per call.")
    parser.add_argument("--seconds", type=float, default=8.0, help="Rough length of each throughput run.")
    args = parser.parse_args()

    codes, rows = seed002_codes()
    top10 = make_requests(64, codes, 10)
    whole = make_requests(16, codes, len(codes))
    print(f"Codebook: {CODEBOOK.name}, {rows} rows, {len(codes)} distinct sub-theme names.\n")
    print("| candidates in prompt | segments per call | message tokens / segment | schema tokens / segment |")
    print("|---|---|---|---|")
    for label, requests, batch_sizes in (
        ("top-10", top10, (1, 4, 8)),
        (f"whole ({len(codes)})", whole, (1,)),
    ):
        for batch_size in batch_sizes:
            messages, schema = prompt_tokens(requests, batch_size)
            print(f"| {label} | {batch_size} | {messages:.0f} | {schema:.0f} |")

    server = FakeChatServer(responder=lambda body: replace(auto_reply(body), delay=args.latency))
    print(f"\nThroughput, top-10 candidates, {args.latency:g} s per call:\n")
    print("| concurrency | segments per call | segments | segments/s |")
    print("|---|---|---|---|")
    with serve_in_thread(server.app()) as base_url:
        url = base_url + "/v1"
        asyncio.run(throughput(url, top10[:1], 1, 1))  # warm-up: litellm loads lazily on the first call
        for concurrency, batch_size in ((1, 1), (8, 1), (32, 1), (8, 4), (8, 8)):
            count = max(1, round(args.seconds / args.latency * concurrency * batch_size))
            requests = make_requests(count, codes, 10)
            rate = asyncio.run(throughput(url, requests, concurrency, batch_size))
            print(f"| {concurrency} | {batch_size} | {count} | {rate:.2f} |")


if __name__ == "__main__":
    main()
