"""Editing the codebook by hand: each change a new version; bad edits refused with the reason; stale
edits refused with 409; a retired code's codings stay."""

from __future__ import annotations

import pytest

from groundcode.domain import Code
from services.analysis.codebook_edit import CodebookEditError, CodeEdit, edited_codes
from tests.adjudication.conftest import Team

CODES = [
    Code(id="barriers", name="Barriers"),
    Code(id="budget", name="Budget", parent_id="barriers", color="#112233"),
    Code(id="cuts", name="Cuts", parent_id="budget"),
    Code(id="trust", name="Trust", definition="Confidence in institutions"),
]


def edit(**change: object) -> list[Code]:
    return edited_codes(CODES, CodeEdit(codebook_version=1, **change))


def test_rename_redefine_recolour_and_move_keep_the_order() -> None:
    codes = edit(
        code_id="trust", name=" Institutional trust ", definition="", color="#abc", parent_id="barriers"
    )
    assert [c.id for c in codes] == [c.id for c in CODES]
    trust = codes[-1]
    assert (trust.name, trust.definition, trust.color, trust.parent_id) == (
        "Institutional trust",
        "",
        "#abc",
        "barriers",
    )
    assert edit(code_id="budget", color="", parent_id="")[1].model_dump(include={"color", "parent_id"}) == {
        "color": None,
        "parent_id": None,
    }


def test_retiring_a_code_moves_its_sub_codes_up() -> None:
    codes = edit(code_id="budget", retire=True)
    assert [(c.id, c.parent_id) for c in codes] == [("barriers", None), ("cuts", "barriers"), ("trust", None)]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"code_id": "nope", "name": "x"}, "no code with id 'nope'"),
        ({"code_id": "trust", "name": "  "}, "a code needs a name"),
        ({"code_id": "trust", "color": "red"}, "colour 'red' is not #RRGGBB"),
        ({"code_id": "barriers", "parent_id": "cuts"}, "cannot move under 'Cuts', which lies within it"),
        ({"code_id": "trust", "parent_id": "ghost"}, "no code with id 'ghost'"),
        ({"code_id": "trust", "name": "Barr\u200biers"}, "look the same"),  # a zero-width space
        ({"code_id": "trust", "name": "a\x07b"}, "control character"),
    ],
)
def test_bad_edits_are_refused_with_the_reason(change: dict[str, object], problem: str) -> None:
    with pytest.raises(CodebookEditError, match=problem):
        edit(**change)


def test_owners_edit_over_http_and_a_stale_edit_is_refused(team: Team) -> None:
    codebook = team.owner.get("/projects/study/codebook/counts").json()
    codes = {c["name"]: c["code_id"] for c in codebook}
    first = team.owner.post(
        "/projects/study/codebook/edit",
        json={"codebook_version": 1, "code_id": codes["Citizen trust"], "name": "Institutional trust"},
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    assert "Institutional trust" in {c["name"] for c in first.json()["codes"]}
    stale = team.owner.post(
        "/projects/study/codebook/edit",
        json={"codebook_version": 1, "code_id": codes["Legal barriers"], "retire": True},
    )
    assert stale.status_code == 409 and "version 2, you had 1" in stale.text
    coder = team.coder.post(
        "/projects/study/codebook/edit",
        json={"codebook_version": 2, "code_id": codes["Legal barriers"], "retire": True},
    )
    assert coder.status_code == 403
    bad = team.owner.post(
        "/projects/study/codebook/edit",
        json={"codebook_version": 2, "code_id": codes["Legal barriers"], "color": "blue"},
    )
    assert bad.status_code == 400 and "colour 'blue'" in bad.json()["detail"]


def test_a_retired_code_is_out_of_the_codebook_but_its_codings_stay(team: Team) -> None:
    codes = {c["name"]: c["code_id"] for c in team.owner.get("/projects/study/codebook/counts").json()}
    coded = team.owner.get("/projects/study/codings", params={"code": "Legal barriers"}).json()
    assert coded  # the coded study has codings of it
    retired = team.owner.post(
        "/projects/study/codebook/edit",
        json={"codebook_version": 1, "code_id": codes["Legal barriers"], "retire": True},
    )
    assert retired.status_code == 200, retired.text
    assert "Legal barriers" not in {c["name"] for c in retired.json()["codes"]}
    assert team.owner.get("/projects/study/codings", params={"code": "Legal barriers"}).json() == coded
