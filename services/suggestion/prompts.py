"""Prompt templates: loaded from the repository's ``prompts/`` folder, versioned by content hash.

Each template (Jinja2) defines three blocks: ``system`` (the rules), ``user`` (codebook and the
segments) and ``reask`` (sent with the validation error after an invalid reply). Transcript text is
placed only between two marker lines carrying a random per-request boundary, which the transcript
cannot guess, so it cannot close the data block and pose as instructions. See ``prompts/README.md``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from services.suggestion.models import CandidateCode, Mode, SuggestionRequest

TEMPLATE_FILES = {Mode.DEDUCTIVE: "deductive.md.j2", Mode.INDUCTIVE: "inductive.md.j2"}


def default_prompts_dir() -> Path:
    """The repository's ``prompts/`` folder (the package is installed editable)."""
    return Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str

    @property
    def version(self) -> str:
        """The first 12 hex digits of the template's SHA-256: changes whenever its text does."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:12]

    @cached_property
    def _template(self) -> jinja2.Template:
        # Plain text for a model, never HTML shown in a browser: escaping would corrupt the prompt.
        environment = jinja2.Environment(  # nosec B701
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False
        )
        return environment.from_string(self.source)

    def render_block(self, block: str, variables: Mapping[str, Any]) -> str:
        template = self._template
        return "".join(template.blocks[block](template.new_context(dict(variables)))).strip()


def load_template(mode: Mode, prompts_dir: Path | None = None) -> PromptTemplate:
    path = (prompts_dir or default_prompts_dir()) / TEMPLATE_FILES[mode]
    return PromptTemplate(name=mode.value, source=path.read_text(encoding="utf-8"))


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
    return texts


def render_messages(
    template: PromptTemplate, batch: Mapping[str, SuggestionRequest], boundary: str
) -> list[dict[str, str]]:
    """The chat messages asking for suggestions for ``batch`` (label -> request)."""
    variables = {
        "segments": [{"label": label, "request": request} for label, request in batch.items()],
        "codebook": distinct_candidates(list(batch.values())),
        "boundary": boundary,
    }
    return [
        {"role": "system", "content": template.render_block("system", variables)},
        {"role": "user", "content": template.render_block("user", variables)},
    ]


def render_reask(template: PromptTemplate, error: str) -> str:
    return template.render_block("reask", {"error": error})


def distinct_candidates(requests: Sequence[SuggestionRequest]) -> list[CandidateCode]:
    """The candidates of all ``requests`` without repeats, in first-seen order."""
    seen: dict[str, CandidateCode] = {}
    for request in requests:
        for candidate in request.candidates:
            seen.setdefault(candidate.code_id, candidate)
    return list(seen.values())
