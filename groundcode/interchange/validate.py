"""Validation of REFI-QDA XML against the official XSDs bundled in ``schemas/`` (QDA-XML 1.0)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from lxml import etree

from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.safe_input import parse_xml

SchemaName = Literal["Codebook", "Project"]


@cache
def _schema(name: SchemaName) -> etree.XMLSchema:
    path = resources.files("groundcode.interchange") / "schemas" / f"{name}.xsd"
    return etree.XMLSchema(parse_xml(path.read_bytes(), f"{name}.xsd"))


def check_against_schema(root: etree._Element, schema: SchemaName, where: str) -> None:
    """Raise ``InterchangeError`` naming the first violation (with its line) if ``root`` is not valid."""
    try:
        _schema(schema).assertValid(root)
    except etree.DocumentInvalid as error:
        entries = list(error.error_log)
        first = entries[0] if entries else None
        detail = f"line {first.line}: {first.message}" if first else str(error)
        more = f" (and {len(entries) - 1} more problems)" if len(entries) > 1 else ""
        raise InterchangeError(where, f"does not follow the REFI-QDA {schema}.xsd: {detail}{more}") from error


def validate_codebook(xml: bytes, where: str = "codebook (.qdc)") -> None:
    """Check a .qdc document against Codebook.xsd."""
    check_against_schema(parse_xml(xml, where), "Codebook", where)


def validate_project(xml: bytes, where: str = "project (.qde)") -> None:
    """Check a .qde document against Project.xsd."""
    check_against_schema(parse_xml(xml, where), "Project", where)
