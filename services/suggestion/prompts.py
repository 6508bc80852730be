"""Prompt templates: loaded from the repository's ``prompts/`` folder, versioned by content hash.

Each template (Jinja2) defines three blocks: ``system`` (the rules and the codebook), ``user`` (the
coder's own examples, then the segments) and ``reask`` (sent with the validation error after an invalid
reply). A variant may ``{% extends %}`` another file; its version covers every file it is built from.

The messages are cache-friendly: what is the same for every call of a run (rules, the codebook in its
fixed order, the coder's examples) comes first and the segments last, so servers that reuse a prompt
prefix (llama.cpp, vLLM, hosted providers) only evaluate the segment part again. Transcript text is
placed only between two marker lines carrying a random boundary (new for each run), which the transcript
cannot guess, so it cannot close the data block and pose as instructions. See ``prompts/README.md``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from groundcode.textnorm import normalize_for_matching
from services.suggestion.models import (
    CandidateCode,
    FeedbackExample,
    Mode,
    PromptVariant,
    SuggestionRequest,
    effective_variant,
)

CHARS_PER_TOKEN = 4
"""A rough, model-independent token estimate for budgets (English prose: ~4 characters a token)."""


def template_file(mode: Mode, variant: PromptVariant = PromptVariant.REASON_FIRST) -> str:
    """The file of ``mode``'s prompt in ``variant``: ``deductive.md.j2``, ``deductive_per_code.md.j2``..."""
    variant = effective_variant(variant, mode)
    suffix = "" if variant is PromptVariant.REASON_FIRST else f"_{variant.value}"
    return f"{mode.value}{suffix}.md.j2"


def default_prompts_dir() -> Path:
    """The repository's ``prompts/`` folder (the package is installed editable)."""
    return Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str
    parents: Mapping[str, str] = field(default_factory=dict)  # file name -> text of extended templates
    variant: PromptVariant = PromptVariant.REASON_FIRST

    @property
    def version(self) -> str:
        """The first 12 hex digits of the SHA-256 of the template and the files it extends: changes
        whenever any of their text does."""
        texts = [self.source, *(f"{name}\n{self.parents[name]}" for name in sorted(self.parents))]
        return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:12]

    @cached_property
    def _template(self) -> jinja2.Template:
        # Plain text for a model, never HTML shown in a browser: escaping would corrupt the prompt.
        environment = jinja2.Environment(  # nosec B701
            loader=jinja2.DictLoader(dict(self.parents)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        return environment.from_string(self.source)

    def render_block(self, block: str, variables: Mapping[str, Any]) -> str:
        """One block, as the template and the templates it extends define it (the child's overrides
        first, the way Jinja's own ``extends`` orders them)."""
        template = self._template
        context = template.new_context(dict(variables))
        parent = _extended(self.source)
        while parent:
            extended = template.environment.get_template(parent[0])
            for name, render in extended.blocks.items():
                context.blocks.setdefault(name, []).append(render)
            parent = _extended(self.parents[parent[0]])
        return "".join(context.blocks[block][0](context)).strip()


def load_template(
    mode: Mode, prompts_dir: Path | None = None, variant: PromptVariant = PromptVariant.REASON_FIRST
) -> PromptTemplate:
    """``mode``'s template in ``variant``, with every template it extends (recursively)."""
    folder = prompts_dir or default_prompts_dir()
    name = template_file(mode, variant)
    source = (folder / name).read_text(encoding="utf-8")
    parents: dict[str, str] = {}
    pending = _extended(source)
    while pending:
        parent = pending.pop()
        if parent not in parents:
            parents[parent] = (folder / parent).read_text(encoding="utf-8")
            pending += _extended(parents[parent])
    return PromptTemplate(
        name=name.removesuffix(".md.j2"),
        source=source,
        parents=parents,
        variant=effective_variant(variant, mode),
    )


def _extended(source: str) -> list[str]:
    parsed = jinja2.Environment(autoescape=False).parse(source)  # nosec B701
    return [name for name in jinja2.meta.find_referenced_templates(parsed) if name]


def new_boundary(texts: Sequence[str]) -> str:
    """A random marker that occurs in none of ``texts``."""
    while True:
        boundary = f"DATA-{secrets.token_hex(8).upper()}"
        if not any(boundary in text for text in texts):
            return boundary


def prompt_texts(requests: Sequence[SuggestionRequest]) -> list[str]:
    """Every piece of transcript text a prompt for ``requests`` contains."""
    texts: list[str] = []
    for request in requests:
        texts += [request.text, request.context_before, request.context_after, request.speaker or ""]
        texts += [exemplar.text for exemplar in request.exemplars]
        texts += [example.text for example in request.feedback]
    return texts


def render_messages(
    template: PromptTemplate, batch: Mapping[str, SuggestionRequest], boundary: str
) -> list[dict[str, str]]:
    """The chat messages asking for suggestions for ``batch`` (label -> request): the rules and the
    codebook in the system message, the coder's examples and then the segments in the user message."""
    requests = list(batch.values())
    variables = {
        "segments": [{"label": label, "request": request} for label, request in batch.items()],
        "codebook": in_codebook_order(distinct_candidates(requests), requests),
        "feedback": feedback_for(requests),
        "boundary": boundary,
    }
    return [
        {"role": "system", "content": template.render_block("system", variables)},
        {"role": "user", "content": template.render_block("user", variables)},
    ]


def feedback_for(requests: Sequence[SuggestionRequest]) -> list[FeedbackExample]:
    """The coder's examples a prompt for ``requests`` shows: all requests of a scope carry the same ones
    (one prompt prefix for every call); those about the segments asked for are left out, since the coder's
    own decision would give the answer away."""
    asked = {request.segment_id for request in requests}
    return [
        example for example in (requests[0].feedback if requests else []) if example.segment_id not in asked
    ]


def shared_prefix_share(first: Sequence[Mapping[str, str]], second: Sequence[Mapping[str, str]]) -> float:
    """The share of ``second``'s prompt characters that repeat ``first``'s from the start: what a server
    caching prompt prefixes evaluates once (a proxy for tokens, which are model-specific)."""
    a = "".join(f"{m['role']}\n{m['content']}\n" for m in first)
    b = "".join(f"{m['role']}\n{m['content']}\n" for m in second)
    common = next(
        (index for index, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return common / len(b) if b else 0.0


def render_reask(template: PromptTemplate, error: str) -> str:
    return template.render_block("reask", {"error": error})


def distinct_candidates(requests: Sequence[SuggestionRequest]) -> list[CandidateCode]:
    """The candidates of all ``requests`` without repeats, in first-seen order."""
    seen: dict[str, CandidateCode] = {}
    for request in requests:
        for candidate in request.candidates:
            seen.setdefault(candidate.code_id, candidate)
    return list(seen.values())


def in_codebook_order(
    candidates: Sequence[CandidateCode], requests: Sequence[SuggestionRequest]
) -> list[CandidateCode]:
    """``candidates`` in a fixed order, whatever their retrieval ranks: the codebook's own order where the
    requests carry the codebook, else by name. Every call then writes the codebook the same way."""
    order = {code.code_id: index for request in requests for index, code in enumerate(request.codebook)}
    return sorted(candidates, key=lambda code: (order.get(code.code_id, len(order)), code.name, code.code_id))


def estimated_tokens(codes: Sequence[CandidateCode]) -> int:
    """About how many prompt tokens ``codes`` take as the template writes them."""
    chars = sum(
        len(code.name) + len(code.definition) + len(code.inclusion) + len(code.exclusion) + 40
        for code in codes
    )
    chars += sum(len(example) + 6 for code in codes for example in code.examples)
    return chars // CHARS_PER_TOKEN + 1


def offered_codes(request: SuggestionRequest, token_budget: int) -> list[CandidateCode]:
    """The codes to offer for ``request``: the whole codebook when it fits ``token_budget`` (a code the
    retrieval shortlist missed can then still be chosen), else the shortlist."""
    whole = _distinct_names(request.codebook)
    if whole and estimated_tokens(whole) <= token_budget:
        return whole
    return list(request.candidates)


def _distinct_names(codes: Sequence[CandidateCode]) -> list[CandidateCode]:
    """One code per name (the model answers with names), the first in codebook order."""
    seen: dict[str, CandidateCode] = {}
    for code in codes:
        seen.setdefault(normalize_for_matching(code.name).strip(), code)
    return list(seen.values())
