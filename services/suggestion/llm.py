"""The LLM suggestion backend: any chat model litellm can call, behind the ``SuggestionBackend`` protocol.

One call answers a batch of segments of the same mode. The reply must follow a JSON schema
(``models.response_schema``); an invalid reply is re-asked with the validation error appended, a
transient provider error (429, 5xx, timeout) is retried with backoff, and every call is bounded by
``max_tokens``. A batch that stays unusable is split, and a segment whose answer stays invalid fails
alone (``SegmentSuggestions.failure``, logged and counted) while the others are kept; ``SuggestionFailed``
is raised only when the provider stays unreachable or no segment at all got an answer. Valid answers go
to the response cache before they are grounded, so a redelivered work item is answered from the cache.

With ``samples`` > 1 each batch is asked that many times (the first at ``temperature``, the others at
``sample_temperature``) and a suggestion's confidence is the share of samples that made it.

This is the only module that imports litellm: it sets litellm's offline switches first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol
from urllib.parse import urlsplit

import openai
from prometheus_client import Counter as MetricCounter
from pydantic import BaseModel, Field, SecretStr
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from groundcode.domain import utcnow
from groundcode.observability import LLM_CALL_SECONDS, record_llm_usage
from groundcode.offline_litellm import import_litellm
from services.suggestion.cache import ResponseCache, cache_key
from services.suggestion.grounding import combine_samples, ground_answer
from services.suggestion.models import (
    Answer,
    CachedAnswer,
    CallRecord,
    InvalidAnswer,
    Mode,
    PromptVariant,
    SegmentSuggestions,
    SuggestionRequest,
    parse_answer,
    response_schema,
)
from services.suggestion.prompts import (
    PromptTemplate,
    load_template,
    new_boundary,
    offered_codes,
    prompt_texts,
    render_messages,
    render_reask,
)
from services.suggestion.redaction import Redaction, Redactor

litellm = import_litellm()

if TYPE_CHECKING:
    from litellm import ModelResponse

logger = logging.getLogger(__name__)

LLM_SEGMENT_FAILURES = MetricCounter(
    "groundcode_llm_segment_failures",
    "Segments left without suggestions because the model's answer stayed unusable (the others were kept).",
    ["model"],
)


class SuggestionFailed(RuntimeError):
    """No usable answer for these segments after retries and re-asks. ``transient``: the provider stayed
    unreachable (the work item should fail and be retried), not an answer that was wrong."""

    def __init__(self, segment_ids: Sequence[str], reason: str, *, transient: bool = False) -> None:
        super().__init__(f"no usable LLM answer for segment(s) {', '.join(segment_ids)}: {reason}")
        self.segment_ids = list(segment_ids)
        self.reason = reason
        self.transient = transient


class RemoteModelNotAllowed(ValueError):
    """The configured model would send transcript text off this machine, which was not allowed."""


class SuggestionBackend(Protocol):
    """Ranked candidate codes for segments, one ``SegmentSuggestions`` per request, in request order."""

    async def suggest(self, requests: Sequence[SuggestionRequest]) -> list[SegmentSuggestions]: ...


JsonMode = Literal["json_schema", "json_object"]


class LiteLLMConfig(BaseModel):
    """How to reach the model and how hard to try."""

    model: str = Field(description="A litellm model name, e.g. 'openai/qwen2.5-7b-instruct' for llama.cpp.")
    api_base: str | None = None
    api_key: SecretStr | None = None
    temperature: float = Field(default=0.0, ge=0.0)
    timeout_seconds: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, description="Retries after 429, 5xx and timeouts.")
    max_reasks: int = Field(default=2, ge=0, description="Re-asks after an invalid reply.")
    batch_size: int = Field(default=1, ge=1, description="Segments per call.")
    max_tokens: int = Field(
        default=768, ge=16, description="Answer tokens per segment; a call may use this times its segments."
    )
    prompt_variant: PromptVariant = PromptVariant.REASON_FIRST
    codebook_token_budget: int = Field(
        default=2500, ge=0, description="Offer the whole codebook when it takes at most this many tokens."
    )
    samples: int = Field(default=1, ge=1, description="Answers per segment; confidence is their agreement.")
    sample_temperature: float = Field(
        default=0.7, ge=0.0, description="Temperature of samples after the first."
    )
    json_mode: JsonMode = Field(
        default="json_schema",
        description="'json_schema' (OpenAI, vLLM, Ollama) or 'json_object' plus 'schema' (llama.cpp).",
    )
    concurrency: int = Field(default=4, ge=1, description="Calls in flight per provider endpoint.")
    allow_remote: bool = False
    retry_initial_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    retry_after_cap_seconds: float = Field(default=60.0, gt=0, description="Longest Retry-After honoured.")
    prompts_dir: Path | None = None


def check_destination(model: str, api_base: str | None, *, allow_remote: bool) -> str:
    """The model's litellm provider. Raises ``RemoteModelNotAllowed`` unless requests stay on this
    machine (loopback ``api_base``, or a provider whose default endpoint is loopback) or remote is allowed."""
    _, provider, _, default_base = litellm.get_llm_provider(model=model, api_base=api_base)
    base = api_base or default_base
    if not allow_remote and not (base and _is_loopback(base)):
        where = base or f"{provider}'s hosted API"
        raise RemoteModelNotAllowed(
            f"model {model!r} would send transcript text to {where}, off this machine. Point api_base at a "
            "local server, or set allow_remote (GROUNDCODE_LLM_ALLOW_REMOTE=true) to consent; consider "
            "redacting participant names."
        )
    return str(provider)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_transient(error: BaseException) -> bool:
    """Worth retrying: timeouts, lost connections, 408, 429 and 5xx. Other 4xx will fail the same way."""
    if isinstance(error, openai.APIConnectionError):  # includes litellm.Timeout
        return True
    status = getattr(error, "status_code", None) if isinstance(error, openai.APIError) else None
    return isinstance(status, int) and (status in (408, 429) or status >= 500)


def retry_after_seconds(error: BaseException) -> float | None:
    """The ``Retry-After`` of a failed response, in seconds (HTTP dates are not used by LLM servers)."""
    # litellm keeps the provider's headers here; ``error.response`` is a rebuilt response without them.
    headers: Mapping[str, str] | None = getattr(error, "litellm_response_headers", None)
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


class _WaitRetryAfter(wait_base):
    """As long as the server's Retry-After asks (capped), else exponential backoff with jitter."""

    def __init__(self, backoff: wait_base, cap: float) -> None:
        self._backoff = backoff
        self._cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        seconds = retry_after_seconds(error) if error else None
        return min(seconds, self._cap) if seconds is not None else self._backoff(retry_state)


class ProviderLimits:
    """At most ``limit`` calls in flight per provider endpoint, shared by the backends given it.

    asyncio semaphores belong to one event loop, so there is one set per running loop.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]]
        self._semaphores = weakref.WeakKeyDictionary()

    def semaphore(self, endpoint: str) -> asyncio.Semaphore:
        per_loop = self._semaphores.setdefault(asyncio.get_running_loop(), {})
        return per_loop.setdefault(endpoint, asyncio.Semaphore(self._limit))


class _Pending(NamedTuple):
    position: int
    request: SuggestionRequest
    shown: SuggestionRequest  # the request as the model sees it (redacted)
    redaction: Redaction
    key: str


class LiteLLMBackend:
    """Suggestions from a chat model through litellm (llama.cpp, Ollama, vLLM, or a hosted provider)."""

    backend_name = "litellm"

    def __init__(
        self,
        config: LiteLLMConfig,
        *,
        cache: ResponseCache | None = None,
        redactor: Redactor | None = None,
        limits: ProviderLimits | None = None,
    ) -> None:
        self._config = config
        self._provider = check_destination(config.model, config.api_base, allow_remote=config.allow_remote)
        self._api_key = _api_key(config)
        self._endpoint = f"{self._provider}@{config.api_base or 'default'}"
        self._cache = cache
        self._redactor = redactor
        self._limits = limits or ProviderLimits(config.concurrency)
        self._templates = {
            mode: load_template(mode, config.prompts_dir, config.prompt_variant) for mode in Mode
        }

    @property
    def model(self) -> str:
        return self._config.model

    async def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        """One JSON answer for a use other than segment suggestions (naming categories), with the same
        destination check, retries, Retry-After and concurrency limit; validating it is the caller's job."""
        response, _, _ = await self._complete(
            messages, self._response_format(schema), [], max_tokens=self._config.max_tokens
        )
        return _content(response)

    async def suggest(self, requests: Sequence[SuggestionRequest]) -> list[SegmentSuggestions]:
        """Cached answers first, the rest in batches of one mode; every batch runs to the end (so its
        answers are cached). A segment whose answer stays unusable fails alone; the first failure is
        raised only if the provider stayed unreachable or every segment asked about failed."""
        results: dict[int, SegmentSuggestions] = {}
        misses: list[_Pending] = []
        for index, request in enumerate(requests):
            pending = self._prepare(index, request)
            entry = await asyncio.to_thread(self._cache.get, pending.key) if self._cache is not None else None
            if entry is None:
                misses.append(pending)
            else:
                results[index] = self._ground(pending, entry, cache_hit=True)
        # One boundary for the whole run keeps the data markers, and so the prompt prefix, the same.
        boundary = new_boundary(prompt_texts([pending.shown for pending in misses]))
        batches = _batches(misses, self._config.batch_size)
        outcomes = await asyncio.gather(
            *(self._answer_isolated(batch, boundary) for batch in batches), return_exceptions=True
        )
        failures: list[SuggestionFailed] = []
        for outcome in outcomes:
            if isinstance(outcome, SuggestionFailed):
                failures.append(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results.update(outcome)
        if failures or (misses and all(results[p.position].failure for p in misses)):
            raise failures[0] if failures else self._all_failed(misses, results)
        return [results[index] for index in range(len(requests))]

    def _all_failed(
        self, misses: Sequence[_Pending], results: Mapping[int, SegmentSuggestions]
    ) -> SuggestionFailed:
        first = results[misses[0].position].failure or ""
        return SuggestionFailed([pending.request.segment_id for pending in misses], first)

    def _prepare(self, position: int, request: SuggestionRequest) -> _Pending:
        config = self._config
        offered = offered_codes(request, config.codebook_token_budget)
        if offered != request.candidates:
            request = request.model_copy(update={"candidates": offered})
        shown, redaction = self._redact(request)
        key = cache_key(
            shown,
            model=config.model,
            prompt_version=self._templates[request.mode].version,
            temperature=config.temperature,
            options={"samples": config.samples, "sample_temperature": config.sample_temperature},
        )
        return _Pending(position, request, shown, redaction, key)

    def _redact(self, request: SuggestionRequest) -> tuple[SuggestionRequest, Redaction]:
        if self._redactor is None:
            return request, Redaction(request.text)
        mask = self._redactor.redact
        redaction = mask(request.text)
        shown = request.model_copy(
            update={
                "text": redaction.text,
                "speaker": mask(request.speaker).text if request.speaker else None,
                "context_before": mask(request.context_before).text,
                "context_after": mask(request.context_after).text,
                "exemplars": [
                    exemplar.model_copy(update={"text": mask(exemplar.text).text})
                    for exemplar in request.exemplars
                ],
            }
        )
        return shown, redaction

    async def _answer_isolated(
        self, batch: Sequence[_Pending], boundary: str
    ) -> dict[int, SegmentSuggestions]:
        """``_answer``, with a batch that stays unusable asked again one segment at a time, and a single
        segment that stays unusable recorded as failed (the provider being unreachable still raises)."""
        try:
            return await self._answer(batch, boundary)
        except SuggestionFailed as failure:
            if failure.transient:
                raise
            if len(batch) == 1:
                return {batch[0].position: self._failed(batch[0], failure.reason)}
            singles = await asyncio.gather(
                *(self._answer_isolated([pending], boundary) for pending in batch), return_exceptions=True
            )
        results: dict[int, SegmentSuggestions] = {}
        for single in singles:
            if isinstance(single, BaseException):
                raise single
            results.update(single)
        return results

    def _failed(self, pending: _Pending, reason: str) -> SegmentSuggestions:
        segment_id = pending.request.segment_id
        logger.warning(
            "no usable LLM answer for segment %s (its other segments are kept): %s",
            segment_id,
            reason,
            extra={"segment_id": segment_id, "model": self._config.model},
        )
        LLM_SEGMENT_FAILURES.labels(model=self._config.model).inc()
        return SegmentSuggestions(segment_id=segment_id, suggestions=[], failure=reason)

    async def _answer(self, batch: Sequence[_Pending], boundary: str) -> dict[int, SegmentSuggestions]:
        mode = batch[0].request.mode
        template = self._templates[mode]
        shown = {f"S{number}": pending.shown for number, pending in enumerate(batch, start=1)}
        segment_ids = [pending.request.segment_id for pending in batch]
        messages = render_messages(template, shown, boundary)
        samples, call = await self._sample(template, messages, mode, shown, segment_ids)
        results = {}
        for label, pending in zip(shown, batch, strict=True):
            answer, agreement = combine_samples(pending.request, [sample[label] for sample in samples])
            entry = CachedAnswer(
                segment_id=pending.request.segment_id,
                model=self._config.model,
                mode=mode,
                answer=answer.model_dump(mode="json"),
                call=call,
                agreement=agreement,
            )
            if self._cache is not None:
                await asyncio.to_thread(self._cache.put, pending.key, entry)
            results[pending.position] = self._ground(pending, entry, cache_hit=False)
        return results

    async def _sample(
        self,
        template: PromptTemplate,
        messages: list[dict[str, str]],
        mode: Mode,
        shown: Mapping[str, SuggestionRequest],
        segment_ids: Sequence[str],
    ) -> tuple[list[dict[str, Answer]], CallRecord]:
        """``samples`` valid answers (the first at ``temperature``, the others at ``sample_temperature``)
        and one record of all their calls. Only the first must succeed: a failed extra sample is left out."""
        config = self._config
        temperatures = [config.temperature] + [config.sample_temperature] * (config.samples - 1)
        outcomes = await asyncio.gather(
            *(self._ask(template, messages, mode, shown, segment_ids, t) for t in temperatures),
            return_exceptions=True,
        )
        if isinstance(outcomes[0], BaseException):
            raise outcomes[0]
        answered = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
        calls = [call for _, call in answered]
        usage: Counter[str] = Counter()
        for call in calls:
            usage.update(call.usage)
        costs = [call.cost_usd for call in calls]
        call = calls[0].model_copy(
            update={
                "usage": dict(usage),
                "cost_usd": None if None in costs else sum(cost for cost in costs if cost is not None),
                "latency_ms": round(sum(call.latency_ms for call in calls), 1),
                "http_calls": sum(call.http_calls for call in calls),
                "samples": len(answered),
            }
        )
        return [answers for answers, _ in answered], call

    async def _ask(
        self,
        template: PromptTemplate,
        messages: list[dict[str, str]],
        mode: Mode,
        shown: Mapping[str, SuggestionRequest],
        segment_ids: Sequence[str],
        temperature: float,
    ) -> tuple[dict[str, Answer], CallRecord]:
        """Ask until the reply validates, appending each validation error for the model to fix
        (the re-ask pattern of ``instructor``), at most ``max_reasks`` times."""
        waited = 0.0  # seconds in calls, not queued behind other calls for a slot nor backing off
        variant = template.variant
        response_format = self._response_format(response_schema(mode, shown, variant))
        max_tokens = self._config.max_tokens * len(shown)
        usage: Counter[str] = Counter()
        costs: list[float | None] = []
        http_calls = 0
        problem: InvalidAnswer | None = None
        for reasks in range(self._config.max_reasks + 1):
            response, calls, seconds = await self._complete(
                messages, response_format, segment_ids, max_tokens=max_tokens, temperature=temperature
            )
            http_calls += calls
            waited += seconds
            response_usage = _usage(response)
            usage.update(response_usage)
            record_llm_usage(self._config.model, response_usage)
            costs.append(_cost(response))
            content = _content(response)
            try:
                answers = parse_answer(content, mode, shown, variant)
            except InvalidAnswer as error:
                problem = _cut_off(error, response, max_tokens)
                messages = [
                    *messages,
                    {"role": "assistant", "content": content},
                    {"role": "user", "content": render_reask(template, str(error))},
                ]
                continue
            return answers, CallRecord(
                resolved_model=response.model or self._config.model,
                usage=dict(usage),
                cost_usd=None if None in costs else sum(cost for cost in costs if cost is not None),
                latency_ms=round(waited * 1000, 1),
                http_calls=http_calls,
                reasks=reasks,
                batch_size=len(shown),
                answered_at=utcnow(),
            )
        reason = f"reply still invalid after {self._config.max_reasks} re-ask(s): {problem}"
        raise SuggestionFailed(segment_ids, reason)

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._config.json_mode == "json_object":
            return {"type": "json_object", "schema": schema}  # llama.cpp turns the schema into a grammar
        json_schema = {"name": "suggestions", "schema": schema, "strict": True}
        return {"type": "json_schema", "json_schema": json_schema}

    async def _complete(
        self,
        messages: list[dict[str, str]],
        response_format: dict[str, Any],
        segment_ids: Sequence[str],
        *,
        max_tokens: int,
        temperature: float | None = None,
    ) -> tuple[ModelResponse, int, float]:
        """One chat completion of at most ``max_tokens``, retried on transient errors; returns the response,
        the calls made and the seconds they took (from getting a slot to the answer or error, so queueing
        is not counted)."""
        config = self._config
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(config.max_retries + 1),
            wait=_WaitRetryAfter(
                wait_exponential_jitter(
                    multiplier=config.retry_initial_seconds,
                    jitter=config.retry_initial_seconds,
                    max=config.retry_max_seconds,
                ),
                cap=config.retry_after_cap_seconds,
            ),
            reraise=True,
        )
        calls = 0
        seconds = 0.0
        try:
            async for attempt in retrying:
                with attempt:
                    calls += 1
                    async with self._limits.semaphore(self._endpoint):
                        started = time.monotonic()
                        try:
                            response = await litellm.acompletion(
                                model=config.model,
                                messages=messages,
                                api_base=config.api_base,
                                api_key=self._api_key,
                                temperature=config.temperature if temperature is None else temperature,
                                max_tokens=max_tokens,
                                timeout=config.timeout_seconds,
                                response_format=response_format,
                                # litellm's and the OpenAI client's own retries are off: ours are counted
                                # and honour Retry-After.
                                num_retries=0,
                                max_retries=0,
                            )
                        finally:
                            elapsed = time.monotonic() - started
                            seconds += elapsed
                            LLM_CALL_SECONDS.labels(model=config.model).observe(elapsed)
        except openai.APIError as error:
            reason = f"{error} (gave up after {calls} call(s))"
            raise SuggestionFailed(segment_ids, reason, transient=is_transient(error)) from error
        if not isinstance(response, litellm.ModelResponse):
            raise TypeError(f"expected a chat completion, got {type(response).__name__}")
        return response, calls, seconds

    def _ground(self, pending: _Pending, entry: CachedAnswer, *, cache_hit: bool) -> SegmentSuggestions:
        request = pending.request
        template = self._templates[request.mode]
        provenance = {
            "backend": self.backend_name,
            "model": self._config.model,
            "provider": self._provider,
            "api_base": self._config.api_base,
            "mode": request.mode.value,
            "prompt_template": template.name,
            "prompt_variant": template.variant.value,
            "prompt_version": template.version,
            "temperature": self._config.temperature,
            "max_tokens": self._config.max_tokens,
            "confidence_source": "agreement",
            "json_mode": self._config.json_mode,
            "redacted": pending.redaction.redacted,
            "codebook_id": request.codebook_id,
            "codebook_version": request.codebook_version,
            "candidates": [
                {"code_id": c.code_id, "name": c.name, "score": c.score} for c in request.candidates
            ],
            **entry.call.model_dump(mode="json"),
        }
        return ground_answer(
            request,
            entry.parsed(),
            redaction=pending.redaction,
            provenance=provenance,
            cache_hit=cache_hit,
            agreement=entry.agreement,
        )


LOCAL_API_KEY = "no-key"
"""Sent to a loopback server when no key is configured: litellm's OpenAI client refuses to call without
one, and a local llama.cpp server ignores it (unless started with ``--api_key``)."""


def _api_key(config: LiteLLMConfig) -> str | None:
    """The configured key; else a placeholder for a loopback ``api_base`` (never a real key from the
    environment, which belongs to the hosted provider); else None (litellm reads the provider's variable)."""
    if config.api_key is not None:
        return config.api_key.get_secret_value()
    return LOCAL_API_KEY if config.api_base and _is_loopback(config.api_base) else None


def _batches(pending: Sequence[_Pending], size: int) -> list[list[_Pending]]:
    by_mode: dict[Mode, list[_Pending]] = {}
    for item in pending:
        by_mode.setdefault(item.request.mode, []).append(item)
    return [group[start : start + size] for group in by_mode.values() for start in range(0, len(group), size)]


def _cut_off(error: InvalidAnswer, response: ModelResponse, max_tokens: int) -> InvalidAnswer:
    """The validation error, saying so when the reply was cut off at ``max_tokens`` (a runaway answer)."""
    choice = response.choices[0] if response.choices else None
    if getattr(choice, "finish_reason", None) != "length":
        return error
    return InvalidAnswer(
        f"the reply was cut off at {max_tokens} tokens: answer much shorter (at most 3 codes, brief "
        f"rationales, short quotes) ({error})"
    )


def _content(response: ModelResponse) -> str:
    choice = response.choices[0] if response.choices else None
    if not isinstance(choice, litellm.Choices):
        return ""
    return choice.message.content or ""


def _usage(response: ModelResponse) -> dict[str, int]:
    usage = getattr(response, "usage", None)
    fields = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {name: int(getattr(usage, name, 0) or 0) for name in fields}


def _cost(response: ModelResponse) -> float | None:
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm raises for models missing from its price list, such as every local model
        return None
