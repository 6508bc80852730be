"""Codebooks from YAML, JSON, CSV and REFI-QDA (.qdc) files into domain ``Code`` lists, and back out as
YAML (pure: text in, codes out; codes in, text out).

YAML/JSON: either a list of codes or a mapping with ``codes:``; each code has ``name`` and optional
``definition``, ``inclusion``, ``exclusion``, ``examples`` (list), ``color``, ``id``, and either nested
``children:`` or a ``parent:`` naming another code. CSV: a header row with ``name`` and any of the same
columns; ``examples`` separated by ``|``; ``parent`` names another code. REFI-QDA: nested codes become
``parent_id``, the Description the ``definition``, the colour ``color``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import Any

import yaml
from pydantic import ValidationError

from groundcode.domain import Code, derived_id
from groundcode.interchange.codebook import codes_from_qdc
from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.refiqda import read_codebook

CODEBOOK_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".qdc")
_TEXT_FIELDS = ("definition", "inclusion", "exclusion")


class CodebookFormatError(ValueError):
    """A codebook file that cannot be read; the message names the file and the problem."""

    def __init__(self, filename: str, problem: str) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = filename
        self.problem = problem


def parse_codebook(filename: str, text: str, *, namespace: str) -> list[Code]:
    """Parse a codebook file's text into codes, parents before children.

    Codes without an explicit ``id`` get one derived from ``namespace`` and their path of names,
    so importing the same file again yields the same ids.
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in CODEBOOK_SUFFIXES:
        raise CodebookFormatError(
            filename, f"unsupported codebook type {suffix or '(none)'!r}; use {', '.join(CODEBOOK_SUFFIXES)}"
        )
    if suffix == ".qdc":
        codes = _qdc_codes(filename, text, namespace)
    else:
        entries = _csv_entries(filename, text) if suffix == ".csv" else _tree_entries(filename, text, suffix)
        codes = _build_codes(filename, entries, namespace)
    if not codes:
        raise CodebookFormatError(filename, "the codebook has no codes")
    return codes


def format_codebook_yaml(name: str, codes: Sequence[Code]) -> str:
    """The codebook as YAML that ``parse_codebook`` reads back: nested ``children``, empty fields left out.

    Ids are not written: importing the file into a project derives them from that project and the names.
    """

    def tree(parent_id: str | None) -> list[dict[str, Any]]:
        return [_yaml_entry(code, tree(code.id)) for code in codes if code.parent_id == parent_id]

    document = {"name": name, "codes": tree(None)}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1_000_000)


def _yaml_entry(code: Code, children: list[dict[str, Any]]) -> dict[str, Any]:
    entry = {
        "name": code.name,
        **{field: getattr(code, field) for field in _TEXT_FIELDS},
        "examples": code.examples,
        "color": code.color,
        "children": children,
    }
    return {key: value for key, value in entry.items() if value}


def _qdc_codes(filename: str, text: str, namespace: str) -> list[Code]:
    try:
        return codes_from_qdc(read_codebook(text, filename), namespace)
    except InterchangeError as error:
        raise CodebookFormatError(filename, error.problem) from error
    except ValidationError as error:
        raise CodebookFormatError(filename, f"a code is not valid: {error.errors()[0]['msg']}") from error


def _tree_entries(filename: str, text: str, suffix: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise CodebookFormatError(filename, f"not valid {suffix.lstrip('.').upper()}: {error}") from error
    if isinstance(document, dict):
        document = document.get("codes")
    if not isinstance(document, list):
        raise CodebookFormatError(filename, "expected a list of codes, or a mapping with a 'codes' list")
    return list(_flatten(filename, document, parent=None, where="codes"))


def _flatten(filename: str, items: list[Any], parent: str | None, where: str) -> Iterator[dict[str, Any]]:
    for index, item in enumerate(items, start=1):
        location = f"{where}[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise CodebookFormatError(filename, f"{location} is not a code (a mapping with a 'name')")
        entry = {key: value for key, value in item.items() if key != "children"}
        entry.setdefault("parent", parent)
        entry["_where"] = location
        yield entry
        children = item.get("children") or []
        if not isinstance(children, list):
            raise CodebookFormatError(filename, f"{location}.children must be a list")
        yield from _flatten(
            filename, children, parent=str(item.get("name", "")), where=f"{location}.children"
        )


def _csv_entries(filename: str, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [column.strip().lower() for column in reader.fieldnames or []]
    if "name" not in columns:
        raise CodebookFormatError(filename, f"the CSV needs a 'name' column; it has {columns or 'no header'}")
    entries = []
    for line_number, row in enumerate(reader, start=2):
        entry: dict[str, Any] = {
            key.strip().lower(): (value or "").strip() for key, value in row.items() if key is not None
        }
        if not any(entry.values()):
            continue
        entry["examples"] = [part.strip() for part in entry.get("examples", "").split("|") if part.strip()]
        entry["parent"] = entry.get("parent") or None
        entry["_where"] = f"line {line_number}"
        entries.append(entry)
    return entries


def _build_codes(filename: str, entries: list[dict[str, Any]], namespace: str) -> list[Code]:
    """Resolve parent names to ids and validate every entry into a ``Code``."""
    ids_by_name: dict[str, str] = {}
    codes: list[Code] = []
    pending = list(entries)
    while pending:
        unresolved = []
        for entry in pending:
            parent_name = entry.get("parent")
            if parent_name and parent_name not in ids_by_name:
                unresolved.append(entry)
                continue
            code = _code(filename, entry, namespace, ids_by_name.get(parent_name) if parent_name else None)
            if code.name in ids_by_name:
                raise CodebookFormatError(filename, f"{entry['_where']}: code {code.name!r} appears twice")
            ids_by_name[code.name] = code.id
            codes.append(code)
        if len(unresolved) == len(pending):
            entry = unresolved[0]
            raise CodebookFormatError(
                filename, f"{entry['_where']}: parent {entry['parent']!r} is not a code in this codebook"
            )
        pending = unresolved
    return codes


def _code(filename: str, entry: dict[str, Any], namespace: str, parent_id: str | None) -> Code:
    where = entry["_where"]
    name = str(entry.get("name") or "").strip()
    if not name:
        raise CodebookFormatError(filename, f"{where}: a code needs a non-empty 'name'")
    examples = entry.get("examples") or []
    if isinstance(examples, str):
        examples = [examples]
    fields = {field: str(entry.get(field) or "").strip() for field in _TEXT_FIELDS}
    try:
        return Code(
            id=str(entry.get("id") or derived_id("code", namespace, name)),
            name=name,
            parent_id=parent_id,
            examples=[str(example) for example in examples],
            color=str(entry["color"]) if entry.get("color") else None,
            **fields,
        )
    except ValidationError as error:
        raise CodebookFormatError(filename, f"{where}: {error.errors()[0]['msg']}") from error
