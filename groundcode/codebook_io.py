"""Codebooks from YAML, JSON, CSV and REFI-QDA (.qdc) files into domain ``Code`` lists, and back out as
YAML (pure: text in, codes out; codes in, text out).

YAML/JSON: either a list of codes or a mapping with ``codes:``; each code has ``name`` and optional
``definition``, ``inclusion``, ``exclusion``, ``examples`` (list), ``color``, ``id``, and either nested
``children:`` or a ``parent:`` naming another code. CSV: a header row with ``name`` and any of the same
columns; ``examples`` separated by ``|``; ``parent`` names another code. REFI-QDA: nested codes become
``parent_id``, the Description the ``definition``, the colour ``color``.

Every format is held to ``CodebookLimits`` before anything is stored: YAML may use only a few aliases
(an alias bomb expands a few hundred bytes into gigabytes), every field must be plain text within its size,
and no two codes may look the same on screen (zero-width and bidirectional characters do not count).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from groundcode.domain import Code, derived_id
from groundcode.interchange.codebook import codes_from_qdc
from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.refiqda import read_codebook
from groundcode.textsafety import control_character_problem, lookalike_key

CODEBOOK_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".qdc")
_TEXT_FIELDS = ("definition", "inclusion", "exclusion")


class CodebookFormatError(ValueError):
    """A codebook file that cannot be read; the message names the file and the problem."""

    def __init__(self, filename: str, problem: str) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = filename
        self.problem = problem


class CodebookLimits(BaseModel):
    """The largest codebook accepted: generous for real codebooks (130-265 codes, a paragraph each)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_codes: int = 5_000
    max_depth: int = 20
    max_name_chars: int = 200
    max_text_chars: int = 10_000  # definition, inclusion, exclusion
    max_examples: int = 100  # per code
    max_example_chars: int = 2_000
    max_yaml_aliases: int = 20


DEFAULT_LIMITS = CodebookLimits()


def parse_codebook(
    filename: str, text: str, *, namespace: str, limits: CodebookLimits = DEFAULT_LIMITS
) -> list[Code]:
    """Parse a codebook file's text into codes, parents before children.

    Codes without an explicit ``id`` get one derived from ``namespace`` and their path of names,
    so importing the same file again yields the same ids. Anything over ``limits`` is refused.
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in CODEBOOK_SUFFIXES:
        raise CodebookFormatError(
            filename, f"unsupported codebook type {suffix or '(none)'!r}; use {', '.join(CODEBOOK_SUFFIXES)}"
        )
    if suffix == ".qdc":
        codes = _qdc_codes(filename, text, namespace)
    else:
        if suffix == ".csv":
            entries = _csv_entries(filename, text, limits)
        else:
            entries = _tree_entries(filename, text, suffix, limits)
        codes = _build_codes(filename, entries, namespace)
    if not codes:
        raise CodebookFormatError(filename, "the codebook has no codes")
    check_codes(filename, codes, limits)
    return codes


def check_codes(filename: str, codes: Sequence[Code], limits: CodebookLimits = DEFAULT_LIMITS) -> None:
    """Refuse codes over the limits, with control characters, or that look like another code."""
    if len(codes) > limits.max_codes:
        raise CodebookFormatError(filename, f"{len(codes)} codes, more than the limit of {limits.max_codes}")
    seen: dict[tuple[str | None, str], str] = {}
    for code in codes:
        problem = _code_problem(code, limits)
        if problem is not None:
            raise CodebookFormatError(filename, f"code {_shorten(code.name)!r}: {problem}")
        # Siblings only, and only names that differ: NVivo repeats a name under different parents.
        key = (code.parent_id, lookalike_key(code.name))
        if key in seen and seen[key] != code.name:
            raise CodebookFormatError(
                filename,
                f"codes {seen[key]!r} and {code.name!r} look the same (they differ only in invisible or "
                "look-alike characters); rename one",
            )
        seen[key] = code.name


def _code_problem(code: Code, limits: CodebookLimits) -> str | None:
    if len(code.examples) > limits.max_examples:
        return f"{len(code.examples)} examples, more than the limit of {limits.max_examples}"
    fields = [("name", code.name, limits.max_name_chars)]
    fields += [(field, getattr(code, field), limits.max_text_chars) for field in _TEXT_FIELDS]
    fields += [(f"example {n}", text, limits.max_example_chars) for n, text in enumerate(code.examples, 1)]
    for field, value, limit in fields:
        if len(value) > limit:
            return f"the {field} is {len(value)} characters, more than the limit of {limit}"
        control = control_character_problem(value)
        if control is not None:
            return f"the {field}'s {control}"
    return None


def _shorten(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


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


class _TooManyAliasesError(Exception):
    pass


class _CodebookLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stopped at the first alias over the limit, before anything is expanded."""

    max_aliases = DEFAULT_LIMITS.max_yaml_aliases

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise _TooManyAliasesError
        return super().compose_node(parent, index)


def _load_yaml(text: str, limits: CodebookLimits) -> Any:
    loader = _CodebookLoader(text)
    loader.max_aliases = limits.max_yaml_aliases
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's complaint in a researcher's words: where (line, column), what, and the usual cause."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return str(error)
    mark = error.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    context = f" ({error.context})" if error.context else ""
    return (
        f"{where}: {error.problem}{context}. A text with a colon, or starting with [ {{ * & ! | > ' \" % @ "
        "or a backtick, needs quotes around it"
    )


def _tree_entries(filename: str, text: str, suffix: str, limits: CodebookLimits) -> list[dict[str, Any]]:
    try:
        document = json.loads(text) if suffix == ".json" else _load_yaml(text, limits)
    except json.JSONDecodeError as error:
        raise CodebookFormatError(filename, f"not valid JSON: {error}") from error
    except yaml.YAMLError as error:
        raise CodebookFormatError(filename, f"not valid YAML: {_yaml_problem(error)}") from error
    except _TooManyAliasesError:
        raise CodebookFormatError(
            filename,
            f"more than {limits.max_yaml_aliases} YAML aliases (*name): a codebook needs few or none, and "
            "many can expand a small file without bound",
        ) from None
    except RecursionError:
        raise CodebookFormatError(filename, "nested too deeply") from None
    if isinstance(document, dict):
        document = document.get("codes")
    if not isinstance(document, list):
        raise CodebookFormatError(filename, "expected a list of codes, or a mapping with a 'codes' list")
    entries = []
    for entry in _flatten(filename, document, parent=None, where="codes", limits=limits):
        entries.append(entry)
        if len(entries) > limits.max_codes:
            raise CodebookFormatError(filename, f"more than the limit of {limits.max_codes} codes")
    return entries


def _flatten(
    filename: str, items: list[Any], parent: str | None, where: str, limits: CodebookLimits, depth: int = 1
) -> Iterator[dict[str, Any]]:
    if depth > limits.max_depth:
        raise CodebookFormatError(filename, f"{where}: codes nested more than {limits.max_depth} levels deep")
    for index, item in enumerate(items, start=1):
        location = f"{where}[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise CodebookFormatError(filename, f"{location} is not a code (a mapping with a 'name')")
        entry = {
            key: _plain(filename, location, key, value) for key, value in item.items() if key != "children"
        }
        entry.setdefault("parent", parent)
        entry["_where"] = location
        yield entry
        children = item.get("children") or []
        if not isinstance(children, list):
            raise CodebookFormatError(filename, f"{location}.children must be a list")
        yield from _flatten(
            filename, children, str(entry.get("name", "")), f"{location}.children", limits, depth + 1
        )


def _plain(filename: str, where: str, key: str, value: Any) -> Any:
    """A field's value if it is text (or a number, a boolean, nothing), or for ``examples`` a list of
    those: nested lists and mappings, the shape of an alias bomb, are refused before they are expanded."""
    scalar = (str, int, float, bool, type(None))
    if isinstance(value, scalar):
        return value
    if key == "examples" and isinstance(value, list) and all(isinstance(item, scalar) for item in value):
        return value
    raise CodebookFormatError(
        filename, f"{where}.{key} must be text" + (" or a list of texts" if key == "examples" else "")
    )


def _csv_entries(filename: str, text: str, limits: CodebookLimits) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        columns = [column.strip().lower() for column in reader.fieldnames or []]
        rows = list(enumerate(reader, start=2))
    except csv.Error as error:  # e.g. a field over the csv module's size limit
        raise CodebookFormatError(filename, f"this CSV file is malformed ({error})") from error
    if "name" not in columns:
        raise CodebookFormatError(filename, f"the CSV needs a 'name' column; it has {columns or 'no header'}")
    if len(rows) > limits.max_codes:
        raise CodebookFormatError(filename, f"more than the limit of {limits.max_codes} codes")
    entries = []
    for line_number, row in rows:
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
