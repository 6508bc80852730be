"""Numbers of an LLM suggestion run, read back from a groundcode data directory. Prints Markdown.

    GROUNDCODE_DATA_DIR=/tmp/gc-llama/data .venv/bin/python bench/llm_run_report.py -p demo \\
        --model openai/qwen2.5-coder-1.5b --samples 10

Per mode, from the response cache (one validated answer per segment, with its call record): segments
answered, seconds between answers (with one call in flight, the time per segment), mean call latency,
re-asks, HTTP calls, prompt and completion tokens per segment. From the stored suggestions: the share of
segments with at least one suggestion, and (deductive) how often the LLM's top code equals the offline
backend's top code on the same segment. Failed suggest work items are listed with their errors; a sample
of suggestions is printed for reading.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from groundcode.app import open_groundcode
from groundcode.domain import Segment, Stage, Suggestion, WorkStatus
from groundcode.settings import Settings
from groundcode.storage.tables import LLMCacheRow
from services.suggestion.models import CachedAnswer

LLM_BACKEND = "litellm"


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-p", "--project", default="demo")
    parser.add_argument("--model", required=True, help="The GROUNDCODE_LLM_MODEL of the run.")
    parser.add_argument("--samples", type=int, default=10, help="Suggestions to print per mode.")
    args = parser.parse_args()

    groundcode = open_groundcode(Settings())
    try:
        project = groundcode.repository.get_project(args.project)
        segments: dict[str, Segment] = {}
        suggestions: list[Suggestion] = []
        for source in groundcode.repository.list_sources(project.id):
            segments.update((s.id, s) for s in groundcode.repository.list_segments(source.id))
            suggestions.extend(groundcode.suggestions.list_for_source(source.id))
        with groundcode.sessions() as session:
            rows = session.scalars(select(LLMCacheRow).where(LLMCacheRow.model == args.model)).all()
            cached = [CachedAnswer.model_validate(row.value) for row in rows]
        failed = [
            item
            for item in groundcode.work_items.find(Stage.SUGGEST, [s.source_id for s in segments.values()])
            if item.status is WorkStatus.FAILED
        ]
        codebook = groundcode.repository.latest_codebook(project.id)
        names = {code.id: code.name for code in codebook.codes} if codebook else {}
    finally:
        groundcode.close()

    cached = [entry for entry in cached if entry.segment_id in segments]
    by_backend: dict[tuple[str, str], dict[str, list[Suggestion]]] = defaultdict(lambda: defaultdict(list))
    for suggestion in suggestions:
        by_backend[(suggestion.backend, suggestion.mode)][suggestion.segment_id].append(suggestion)

    print(f"{len(segments)} segments in project {args.project}; model {args.model}\n")
    print(
        "| mode | segments answered | s between answers | latency s (mean / max) | first-try valid "
        "| re-asks | HTTP calls "
        "| prompt tok / seg | completion tok / seg | segments with a suggestion |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode in ("deductive", "inductive"):
        entries = [entry for entry in cached if entry.mode.value == mode]
        if not entries:
            continue
        latencies = [entry.call.latency_ms / 1000 for entry in entries]
        times = sorted(entry.call.answered_at for entry in entries)
        span = (times[-1] - times[0]).total_seconds() / max(1, len(entries) - 1)
        first_try = sum(entry.call.reasks == 0 for entry in entries)
        with_suggestion = len(by_backend[(LLM_BACKEND, mode)])
        proposed = sum(len(entry.answer["suggestions"]) for entry in entries)
        kept = sum(len(items) for items in by_backend[(LLM_BACKEND, mode)].values())
        none_fits = sum(bool(entry.answer.get("none_fits")) for entry in entries)
        print(
            f"| {mode} | {len(entries)} | {span:.1f} | {_mean(latencies):.1f} / {max(latencies):.1f} "
            f"| {first_try}/{len(entries)} | {sum(e.call.reasks for e in entries)} "
            f"| {sum(e.call.http_calls for e in entries)} "
            f"| {_mean([e.call.usage.get('prompt_tokens', 0) for e in entries]):.0f} "
            f"| {_mean([e.call.usage.get('completion_tokens', 0) for e in entries]):.0f} "
            f"| {with_suggestion}/{len(entries)} |"
        )
        print(
            f"|  | {mode}: {proposed} suggestions proposed, {kept} kept (quote found in the segment), "
            f"none_fits {none_fits}/{len(entries)} |"
        )
    print(f"\nFailed suggest work items: {len(failed)}")
    for item in failed:
        print(f"* {item.subject_id}: {item.last_error}")

    llm_top = {sid: _top(items) for sid, items in by_backend[(LLM_BACKEND, "deductive")].items()}
    offline_top = {sid: _top(items) for sid, items in by_backend[("offline", "deductive")].items()}
    answered = {entry.segment_id for entry in cached if entry.mode.value == "deductive"}
    both = [sid for sid in answered if sid in llm_top and sid in offline_top]
    agree = sum(llm_top[sid].code_id == offline_top[sid].code_id for sid in both)
    in_offline_top3 = sum(
        llm_top[sid].code_id in {s.code_id for s in by_backend[("offline", "deductive")][sid][:3]}
        for sid in both
    )
    print(
        f"\nDeductive top-1 agreement with the offline backend: {agree}/{len(both)} segments where both "
        f"suggest a code; the LLM's top code is in the offline top 3 for {in_offline_top3}/{len(both)}."
    )

    for mode in ("deductive", "inductive"):
        shown = sorted(by_backend[(LLM_BACKEND, mode)].items(), key=lambda kv: _order(segments[kv[0]]))
        if not shown:
            continue
        step = max(1, len(shown) // args.samples)
        print(f"\n{mode} samples:")
        for segment_id, items in shown[::step][: args.samples]:
            top = _top(items)
            what = names.get(top.code_id, top.code_id) if top.code_id else f"new: {top.proposed_label}"
            offline = offline_top.get(segment_id)
            also = (
                f" [offline: {names.get(offline.code_id or '', '-')}]"
                if offline and mode == "deductive"
                else ""
            )
            print(f"* «{segments[segment_id].text.strip()}» → **{what}** ({top.confidence:.2f}){also}")
            print(f"  rationale: {top.rationale} | quote: {top.quote_match or 'none'}")


def _top(items: Sequence[Suggestion]) -> Suggestion:
    return min(items, key=lambda suggestion: suggestion.rank)


def _order(segment: Segment) -> tuple[str, int]:
    return segment.source_id, segment.position


if __name__ == "__main__":
    main()
