"""Axial grouping: clustering by meaning and co-occurrence, medoid names, applying a grouping."""

from __future__ import annotations

import pytest

from eval import seeds
from groundcode.domain import Code, Codebook
from services.analysis.axial import (
    AxialOptions,
    GroupingError,
    GroupToApply,
    Placement,
    agreement,
    apply_grouping,
    cooccurrence,
    propose,
)
from services.analysis.benchmark import first_themes, run
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.indexing import code_text

OBVIOUS = {
    "money": ["Budget cuts", "Lack of funding", "Cost of the servers"],
    "law": ["Legal barriers", "Unclear legislation", "Court rulings on data"],
    "people": ["Citizens' trust", "Public confidence in the portal", "Distrust of officials"],
}


@pytest.fixture(scope="module")
def e5() -> LocalE5Embedder:
    return LocalE5Embedder()


def groups_of(codes: list[Code], proposal_groups: list[list[str]]) -> set[frozenset[str]]:
    names = {code.id: code.name for code in codes}
    return {frozenset(names[code_id] for code_id in group) for group in proposal_groups}


def test_codes_of_three_obvious_themes_fall_into_three_groups(e5: LocalE5Embedder) -> None:
    codes = [Code(id=name, name=name) for names in OBVIOUS.values() for name in names]
    vectors = e5.embed_queries([code_text(code) for code in codes])
    proposal = propose(codes, vectors, [], AxialOptions(groups=3))
    found = groups_of(codes, [group.code_ids for group in proposal.groups])
    assert found == {frozenset(names) for names in OBVIOUS.values()}
    assert proposal.codes == 9 and proposal.chosen_groups == 3 and proposal.silhouette is not None
    for group in proposal.groups:  # named after a member, the one closest to the others
        assert group.name in group.code_names and group.medoid_code_id in group.code_ids


def test_the_default_size_is_one_group_per_five_codes(e5: LocalE5Embedder) -> None:
    codes = [Code(id=str(n), name=f"code {n}") for n in range(20)]
    proposal = propose(codes, e5.embed_queries([code.name for code in codes]), [], AxialOptions())
    assert proposal.chosen_groups == 4


# Meaning pairs a with c and b with d; researchers apply a with b and c with d.
VECTORS = [[1.0, 0.0, 0.1], [0.0, 1.0, 0.1], [0.95, 0.05, 0.1], [0.05, 0.95, 0.1]]
CODES = [Code(id=code_id, name=code_id) for code_id in "abcd"]
TOGETHER = [
    Placement(code_id=code_id, source_id="s1", position=position)
    for position, pair in enumerate(["ab", "ab", "cd", "cd"])
    for code_id in pair
] + [Placement(code_id="b", source_id="s2", position=5), Placement(code_id="a", source_id="s2", position=6)]


def test_cooccurrence_counts_codings_on_the_same_and_adjacent_segments() -> None:
    co = cooccurrence(["a", "b", "c", "d"], TOGETHER, adjacency=1)
    assert co[0, 1] == 1.0  # every coding of a is on or next to one of b, and the other way round
    assert co[0, 2] == pytest.approx(co[2, 0]) and 0 < co[0, 2] < 1  # positions 1 and 2 are adjacent
    assert cooccurrence(["a", "b"], TOGETHER, adjacency=0)[0, 1] == pytest.approx(4 / 6)
    assert cooccurrence(["a", "x"], TOGETHER, adjacency=1)[0, 1] == 0.0  # x has no codings


def test_cooccurrence_can_outweigh_meaning() -> None:
    by_meaning = propose(CODES, VECTORS, TOGETHER, AxialOptions(groups=2, embedding_weight=1.0))
    assert groups_of(CODES, [g.code_ids for g in by_meaning.groups]) == {frozenset("ac"), frozenset("bd")}
    by_use = propose(CODES, VECTORS, TOGETHER, AxialOptions(groups=2, embedding_weight=0.2, adjacency=0))
    assert groups_of(CODES, [g.code_ids for g in by_use.groups]) == {frozenset("ab"), frozenset("cd")}


def test_a_distance_threshold_or_a_number_of_groups_but_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        AxialOptions(groups=2, distance_threshold=0.5)
    merged = propose(CODES, VECTORS, [], AxialOptions(distance_threshold=2.0))
    assert merged.chosen_groups == 1


CODEBOOK = [
    Code(id="budget", name="Budget cuts"),
    Code(id="funding", name="Lack of funding"),
    Code(id="law", name="Legal barriers"),
    Code(id="courts", name="Court rulings"),
    Code(id="trust", name="Trust", parent_id="law"),
]


def test_applying_nests_codes_under_new_or_promoted_categories() -> None:
    groups = [
        GroupToApply(name="Money", definition="Funds for digital work.", code_ids=["budget", "funding"]),
        GroupToApply(name="legal barriers", code_ids=["law", "courts"]),  # named like a member: promoted
    ]
    codes = apply_grouping("project", CODEBOOK, groups)
    codebook = Codebook(project_id="project", name="open codes", codes=codes)  # validates the parents
    by_name = {code.name: code for code in codebook.codes}
    money = by_name["Money"]
    assert [code.name for code in codes][:2] == ["Money", "Budget cuts"]  # placed before its first code
    assert money.parent_id is None and money.definition == "Funds for digital work."
    assert by_name["Budget cuts"].parent_id == by_name["Lack of funding"].parent_id == money.id
    assert by_name["Legal barriers"].parent_id is None and by_name["Court rulings"].parent_id == "law"
    assert by_name["Trust"].parent_id == "law"  # in no group: unchanged
    assert apply_grouping("project", CODEBOOK, groups)[0].id == money.id  # the same name, the same id


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        (
            [GroupToApply(name="A", code_ids=["budget"]), GroupToApply(name="B", code_ids=["budget"])],
            "two groups",
        ),
        ([GroupToApply(name="A", code_ids=["nope"])], "no code with id 'nope'"),
        (
            [GroupToApply(name="A", code_ids=["law"]), GroupToApply(name="a", code_ids=["courts"])],
            "same name",
        ),
        (
            [
                GroupToApply(name="Trust", code_ids=["law"]),  # law under trust, and trust is under law
                GroupToApply(name="Money", code_ids=["budget"]),
            ],
            "inside itself",
        ),
    ],
)
def test_a_grouping_that_cannot_apply_is_refused(groups: list[GroupToApply], problem: str) -> None:
    with pytest.raises(GroupingError, match=problem):
        apply_grouping("project", CODEBOOK, groups)


def test_agreement_and_the_seed_002_reference() -> None:
    perfect = agreement(["x", "x", "y"], [3, 3, 1])
    assert perfect.adjusted_rand_index == perfect.normalized_mutual_information == 1.0
    reference = first_themes(seeds.themes(seeds.load(seeds.THEMES_FILE)))
    assert len(reference) == 123 and len(set(reference.values())) == 23
    # Listed under two themes, a sub-theme counts under the first one (Table 3 row 7, not row 19).
    assert reference["ساختار سازمانی فرایندمحور"] == "برنامهریزی هوشمند"


def test_the_benchmark_scores_a_grouping_against_chance() -> None:
    reference = {"a": "x", "b": "x", "c": "y", "d": "y"}
    [row] = run(reference, [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], [AxialOptions(groups=2)])
    assert row.result.adjusted_rand_index == 1.0 and row.chance_ari < 0.5
