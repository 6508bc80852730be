"""Editing a codebook by hand: rename a code, re-define it, recolour it, move it under another parent, or
retire it. Pure functions over codes; each edit becomes a new codebook version (the service stores it).

Retiring a code takes it out of the codebook: it is no longer suggested, its codings stay (they keep its
name in every listing and export), and its sub-codes move up to its parent.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from groundcode.codebook_io import CodebookFormatError, check_codes
from groundcode.domain import Code, Model, is_rgb_color
from groundcode.state import codes_under, without_code

TOP_LEVEL = ""


class CodebookEditError(ValueError):
    """An edit that cannot be made; the message names the code and the problem."""


class CodeEdit(Model):
    """One code's changes; a field left out stays as it is."""

    codebook_version: int = Field(description="The version you edited: 409 if the codebook changed since.")
    code_id: str
    name: str | None = Field(default=None, description="A new name.")
    definition: str | None = Field(default=None, description="A new definition.")
    color: str | None = Field(default=None, description='"#RRGGBB" or "#RGB"; "" takes the colour away.')
    parent_id: str | None = Field(default=None, description='Move under this code; "" to the top level.')
    retire: bool = Field(default=False, description="Take the code out of the codebook; codings stay.")


def edited_codes(codes: Sequence[Code], edit: CodeEdit) -> list[Code]:
    """The codes with ``edit`` applied (order kept), or ``CodebookEditError`` saying why not."""
    by_id = {code.id: code for code in codes}
    code = by_id.get(edit.code_id)
    if code is None:
        raise CodebookEditError(f"the codebook has no code with id {edit.code_id!r}")
    if edit.retire:
        return without_code(codes, code.id, children_to=code.parent_id)
    changes: dict[str, object] = {}
    if edit.name is not None:
        changes["name"] = edit.name.strip()
    if edit.definition is not None:
        changes["definition"] = edit.definition.strip()
    if edit.color is not None:
        if edit.color and not is_rgb_color(edit.color):
            raise CodebookEditError(f"code {code.name!r}: colour {edit.color!r} is not #RRGGBB or #RGB")
        changes["color"] = edit.color or None
    if edit.parent_id is not None:
        changes["parent_id"] = _new_parent(code, edit.parent_id, codes)
    if not changes.get("name", code.name):
        raise CodebookEditError(f"code {code.name!r}: a code needs a name")
    edited = [other.model_copy(update=changes) if other.id == code.id else other for other in codes]
    try:
        check_codes("codebook", edited)
    except CodebookFormatError as error:
        raise CodebookEditError(error.problem) from error
    return edited


def _new_parent(code: Code, parent_id: str, codes: Sequence[Code]) -> str | None:
    if parent_id == TOP_LEVEL:
        return None
    parent = next((other for other in codes if other.id == parent_id), None)
    if parent is None:
        raise CodebookEditError(f"code {code.name!r}: the codebook has no code with id {parent_id!r}")
    if parent_id in codes_under(codes, {code.id}):
        raise CodebookEditError(f"code {code.name!r} cannot move under {parent.name!r}, which lies within it")
    return parent_id
