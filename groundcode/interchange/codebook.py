"""REFI-QDA codes <-> groundcode codes (pure).

A REFI-QDA code has a name, a Description, a colour and child codes; a groundcode ``Code`` also has
inclusion and exclusion criteria and examples, which no REFI-QDA element carries. So: hierarchy <->
``parent_id``, Description <-> ``definition``, colour <-> ``color`` (a code without one is exported with a
palette colour of its own); ``qdc_losses`` says what an export drops.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from groundcode.domain import Code, is_rgb_color
from groundcode.interchange.refiqda import (
    QdaCode,
    QdaCodebook,
    interchange_guid,
    local_id,
    walk_codes,
)


def codes_from_qdc(codebook: QdaCodebook, namespace: str) -> list[Code]:
    """The codebook's codes, parents before children.

    Ids derive from ``namespace`` (the project) and each code's GUID (names may repeat under different
    parents in REFI-QDA, as NVivo does; GUIDs may not), so that exporting the codes gives the same GUIDs.
    """

    def code_id(code: QdaCode) -> str:
        return local_id("code", code.guid, namespace)

    return [
        Code(
            id=code_id(code),
            name=code.name.strip(),
            definition=(code.description or "").strip(),
            color=code.color,
            parent_id=code_id(parent) if parent else None,
        )
        for code, parent in walk_codes(codebook.codes)
    ]


def qdc_from_codes(
    codes: Sequence[Code], origin: str, project_id: str, applied: Collection[str] | None = None
) -> QdaCodebook:
    """The REFI-QDA codebook of a project's ``codes`` (a consistent hierarchy, as in a ``Codebook``). With
    ``applied`` (the codes codings use), a parent code never applied itself is a category: not codable."""
    parents = {code.parent_id for code in codes}

    def tree(parent_id: str | None) -> list[QdaCode]:
        return [
            QdaCode(
                guid=interchange_guid("code", code.id, project_id),
                name=code.name,
                is_codable=applied is None or code.id not in parents or code.id in applied,
                description=code.definition or None,
                color=code.display_color,
                children=tree(code.id),
            )
            for code in codes
            if code.parent_id == parent_id
        ]

    return QdaCodebook(origin=origin, codes=tree(None))


def qdc_losses(codes: Sequence[Code]) -> list[str]:
    """What a REFI-QDA export of ``codes`` leaves out, one sentence each (empty when nothing is lost)."""
    losses = []
    criteria = [code.name for code in codes if code.inclusion or code.exclusion or code.examples]
    if criteria:
        losses.append(
            f"{len(criteria)} code(s) have inclusion/exclusion criteria or examples, which REFI-QDA "
            f"codebooks cannot carry; only the definition is exported (as the Description): "
            f"{', '.join(criteria)}"
        )
    losses.extend(
        f"code {code.name!r}: colour {code.color!r} is not #RGB or #RRGGBB; a palette colour is exported"
        for code in codes
        if code.color and not is_rgb_color(code.color)
    )
    return losses
