"""Codebook import from YAML, JSON and CSV, and its error messages."""

from __future__ import annotations

import json

import pytest

from groundcode.codebook_io import CodebookFormatError, parse_codebook

YAML_CODEBOOK = """
name: Smart governance
codes:
  - name: Political image
    definition: How smart governance changes politics and administration
    color: "#1f77b4"
    children:
      - name: Legal considerations
        definition: Laws and regulations that enable or block smart governance
        inclusion: Mentions of laws, bylaws, legal gaps
        exclusion: Informal norms
        examples: ["We need a data-sharing law first"]
      - name: شفافیت
  - Economic image
"""


def test_yaml_hierarchy_resolves_parents_and_keeps_fields() -> None:
    codes = parse_codebook("book.yaml", YAML_CODEBOOK, namespace="p1")
    by_name = {code.name: code for code in codes}
    assert list(by_name) == ["Political image", "Legal considerations", "شفافیت", "Economic image"]
    legal = by_name["Legal considerations"]
    assert legal.parent_id == by_name["Political image"].id
    assert legal.examples == ["We need a data-sharing law first"]
    assert legal.exclusion == "Informal norms"
    assert by_name["Political image"].color == "#1f77b4"
    assert by_name["Economic image"].parent_id is None


def test_ids_are_stable_across_imports() -> None:
    first = parse_codebook("book.yaml", YAML_CODEBOOK, namespace="p1")
    assert parse_codebook("book.yaml", YAML_CODEBOOK, namespace="p1") == first
    assert parse_codebook("book.yaml", YAML_CODEBOOK, namespace="p2")[0].id != first[0].id


def test_json_with_parent_references_in_any_order() -> None:
    data = [{"name": "Child", "parent": "Root"}, {"name": "Root", "definition": "top"}]
    codes = parse_codebook("book.json", json.dumps(data), namespace="p")
    assert [code.name for code in codes] == ["Root", "Child"]
    assert codes[1].parent_id == codes[0].id


def test_csv_codebook() -> None:
    text = "Name,Definition,Parent,Examples\nTrust,Confidence in others,,\nTrust in officials,,Trust,a|b\n"
    codes = parse_codebook("book.csv", text, namespace="p")
    assert codes[1].parent_id == codes[0].id
    assert codes[1].examples == ["a", "b"]


@pytest.mark.parametrize(
    ("filename", "text", "problem"),
    [
        ("book.txt", "x", "unsupported codebook type '.txt'"),
        ("book.yaml", "codes: [", "not valid YAML"),
        (
            "book.yaml",
            "- name: A\n  definition: one: two\n",
            "line 2, column 18: mapping values .* needs quotes",
        ),
        ("book.json", "{", "not valid JSON"),
        ("book.yaml", "codes: 3", "expected a list of codes"),
        ("book.yaml", "- name: ''", r"codes\[1\]: a code needs a non-empty 'name'"),
        ("book.yaml", "- name: A\n  parent: Missing", "parent 'Missing' is not a code"),
        ("book.yaml", "- A\n- A", "code 'A' appears twice"),
        ("book.csv", "label\nx\n", "needs a 'name' column"),
        ("book.csv", "name\n", "has no codes"),
    ],
)
def test_bad_codebooks_name_the_file_and_problem(filename: str, text: str, problem: str) -> None:
    with pytest.raises(CodebookFormatError, match=problem) as caught:
        parse_codebook(filename, text, namespace="p")
    assert str(caught.value).startswith(f"{filename}: ")
