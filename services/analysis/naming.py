"""Naming the groups of an axial-coding proposal with a language model (when one is configured).

Offline, a group is named after its medoid code; with the ``llm`` backend the model proposes a name and a
definition per group from the group's codes. The answer is validated; an invalid one is re-asked with the
validation error (bounded), and if it stays invalid the offline names are kept and the proposal says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import Field, ValidationError

from groundcode.domain import Code, Model
from services.analysis.axial import AxialProposal
from services.suggestion.prompts import PromptTemplate, default_prompts_dir

TEMPLATE_FILE = "group_naming.md.j2"
MAX_REASKS = 2


class JsonCompleter(Protocol):
    """A chat model answering in JSON (the llm suggestion backend, with its retries and limits)."""

    @property
    def model(self) -> str: ...

    async def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str: ...


class GroupName(Model):
    group: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=80)
    definition: str = Field(max_length=500)  # required: OpenAI strict schemas allow no optional fields


class GroupNames(Model):
    groups: list[GroupName]


def load_naming_template() -> PromptTemplate:
    path = default_prompts_dir() / TEMPLATE_FILE
    return PromptTemplate(name="group-naming", source=path.read_text(encoding="utf-8"))


def naming_messages(
    template: PromptTemplate, proposal: AxialProposal, codes: Mapping[str, Code]
) -> list[dict[str, str]]:
    """The chat messages asking for a name per group (groups numbered from 1, in the proposal's order)."""
    variables = {
        "groups": [
            {"number": number, "codes": [codes[code_id] for code_id in group.code_ids if code_id in codes]}
            for number, group in enumerate(proposal.groups, start=1)
        ]
    }
    return [
        {"role": "system", "content": template.render_block("system", variables)},
        {"role": "user", "content": template.render_block("user", variables)},
    ]


def parse_names(answer: str, groups: int) -> dict[int, GroupName]:
    """The names by group number; raises ``ValueError`` unless every group has exactly one."""
    parsed = GroupNames.model_validate(json.loads(answer))
    numbers = [entry.group for entry in parsed.groups]
    if sorted(numbers) != list(range(1, groups + 1)):
        raise ValueError(f"expected one entry for each group 1-{groups}, got groups {numbers}")
    return {entry.group: entry for entry in parsed.groups}


async def name_groups(
    model: JsonCompleter, proposal: AxialProposal, codes: Sequence[Code], *, max_reasks: int = MAX_REASKS
) -> AxialProposal:
    """The proposal with the model's group names and definitions, or unchanged (and saying why) if the
    model never gave a valid answer."""
    if not proposal.groups:
        return proposal
    template = load_naming_template()
    messages = naming_messages(template, proposal, {code.id: code for code in codes})
    schema = GroupNames.model_json_schema()
    error = ""
    for _ in range(max_reasks + 1):
        answer = await model.complete_json(messages, schema)
        try:
            names = parse_names(answer, len(proposal.groups))
        except (ValueError, ValidationError) as invalid:  # json.JSONDecodeError is a ValueError
            error = str(invalid).splitlines()[0]
            messages += [
                {"role": "assistant", "content": answer},
                {"role": "user", "content": template.render_block("reask", {"error": error})},
            ]
            continue
        groups = [
            group.model_copy(
                update={"name": names[number].name.strip(), "definition": names[number].definition}
            )
            for number, group in enumerate(proposal.groups, start=1)
        ]
        naming = f"llm {model.model} (prompt {template.name} {template.version})"
        return proposal.model_copy(update={"groups": groups, "naming": naming})
    return proposal.model_copy(
        update={"naming": f"{proposal.naming}; the model's names were invalid: {error}"}
    )
