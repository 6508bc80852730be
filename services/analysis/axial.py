"""Axial coding support: a proposed grouping of open codes into categories. Pure functions, no I/O.

Two codes belong together when they mean similar things (their embeddings: name, definition, inclusion
criteria, examples, as a coder reads them; embedded as queries, E5's prefix for symmetric tasks such as
clustering, which groups seed 002 better than the passage prefix) and when researchers apply them to the
same passages (codings on the same or adjacent segments). The distance between two codes is

    d = w * meaning + (1 - w) * (1 - co-occurrence)

with ``meaning`` the cosine distance rescaled to 0-1 over the codes compared (embedding models compress
cosines: unrelated texts still score ~0.8), ``co-occurrence`` the share of either code's codings that sit
on or next to a coding of the other, and ``w`` = ``embedding_weight``. For a pair where a code has no
codings, co-occurrence is unknown and meaning alone counts. Codes are grouped by agglomerative clustering
(scipy) into a chosen number of groups (by default one per five codes) or below a distance threshold. Ward
linkage is the default: it keeps groups of comparable size, where average linkage made one group of most
codes and a few singletons (on seed 002 and on the test study); Ward's variance argument assumes Euclidean
distances, so on these it is a heuristic. Each group is named after its medoid, the code closest to all
others in it; naming by an LLM is not offered (offline naming only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from groundcode.domain import Code, Model, derived_id
from groundcode.textsafety import same_name_key

Matrix = NDArray[np.float64]
Linkage = Literal["ward", "average", "complete", "single"]
CODES_PER_GROUP = 5
"""The default grouping's size: seed 002 groups 128 sub-themes into 23 themes, seed 000 130 codes into 36
concepts. (The best silhouette gave 77 groups for seed 002's 123 codes, 2 when capped at n/3.)"""
NAMING = "medoid (offline: the code closest to the others in its group)"


class AxialOptions(Model):
    groups: int | None = Field(
        default=None, ge=1, description=f"Number of groups (default: one per {CODES_PER_GROUP} codes)."
    )
    distance_threshold: float | None = Field(
        default=None, gt=0.0, description="Merge groups closer than this (0-1) instead of a number of groups."
    )
    embedding_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Weight of meaning against co-occurrence."
    )
    adjacency: int = Field(default=1, ge=0, description="Segments apart that still count as co-occurring.")
    linkage: Linkage = "ward"

    @model_validator(mode="after")
    def _one_stopping_rule(self) -> AxialOptions:
        if self.groups is not None and self.distance_threshold is not None:
            raise ValueError("give a number of groups or a distance threshold, not both")
        return self


class Placement(Model):
    """Where a code was applied: a segment, by source and position."""

    code_id: str
    source_id: str
    position: int


class ProposedGroup(Model):
    name: str = Field(description="The medoid's name (or the model's): rename it when you apply.")
    definition: str = Field(
        default="", description="The model's definition of the category, if named by one."
    )
    medoid_code_id: str
    code_ids: list[str]
    code_names: list[str]
    spread: float = Field(description="Mean distance of the codes to the medoid (0: identical).")


class AxialProposal(Model):
    codebook_id: str | None
    codebook_version: int | None
    codes: int
    groups: list[ProposedGroup]
    options: AxialOptions
    chosen_groups: int
    silhouette: float | None = Field(description="Silhouette of the grouping (-1 to 1; higher: clearer).")
    naming: str = NAMING


class GroupToApply(Model):
    name: str = Field(min_length=1, max_length=200, description="The category's name (a rename is fine).")
    definition: str = Field(default="", max_length=5000)
    code_ids: list[str] = Field(min_length=1, description="The codes it groups (move codes between groups).")


class AxialApplyRequest(Model):
    codebook_version: int = Field(ge=1, description="The codebook version the proposal was made on.")
    groups: list[GroupToApply] = Field(min_length=1)


class GroupingError(ValueError):
    """A grouping that cannot be applied to the codebook (the message says why)."""


class Agreement(Model):
    """How a grouping compares with a reference grouping of the same items."""

    items: int
    reference_groups: int
    predicted_groups: int
    adjusted_rand_index: float
    normalized_mutual_information: float


def cosine_distances(vectors: Sequence[Sequence[float]]) -> Matrix:
    """Cosine distances rescaled so that the closest distinct pair is 0 and the farthest 1."""
    array = np.asarray(vectors, dtype=np.float64)
    unit = array / np.clip(np.linalg.norm(array, axis=1, keepdims=True), 1e-12, None)
    distances: Matrix = 1.0 - unit @ unit.T
    off = ~np.eye(len(array), dtype=bool)
    if not off.any():
        return np.zeros_like(distances)
    low, high = distances[off].min(), distances[off].max()
    scaled: Matrix = np.where(off, (distances - low) / max(high - low, 1e-12), 0.0)
    return scaled


def cooccurrence(code_ids: Sequence[str], placements: Sequence[Placement], adjacency: int) -> Matrix:
    """Share of the two codes' placements that sit on or within ``adjacency`` segments of the other's
    (0-1; 0 also for codes without placements)."""
    where: dict[str, set[tuple[str, int]]] = {code_id: set() for code_id in code_ids}
    for placement in placements:
        if placement.code_id in where:
            where[placement.code_id].add((placement.source_id, placement.position))
    result = np.zeros((len(code_ids), len(code_ids)))
    for i, first in enumerate(code_ids):
        for j in range(i + 1, len(code_ids)):
            a, b = where[first], where[code_ids[j]]
            if a and b:
                near = _near_count(a, b, adjacency) + _near_count(b, a, adjacency)
                result[i, j] = result[j, i] = near / (len(a) + len(b))
    return result


def _near_count(spots: set[tuple[str, int]], others: set[tuple[str, int]], adjacency: int) -> int:
    return sum(
        any((source, position + step) in others for step in range(-adjacency, adjacency + 1))
        for source, position in spots
    )


def combined_distances(meaning: Matrix, co: Matrix, placed: Sequence[bool], weight: float) -> Matrix:
    """``weight * meaning + (1 - weight) * (1 - co)`` where both codes have codings, else ``meaning``."""
    known = np.outer(np.asarray(placed), np.asarray(placed))
    distances: Matrix = np.where(known, weight * meaning + (1.0 - weight) * (1.0 - co), meaning)
    np.fill_diagonal(distances, 0.0)
    return distances


def cluster(distances: Matrix, options: AxialOptions) -> tuple[list[int], float | None]:
    """Group labels per code, and the grouping's silhouette when it has one: one agglomerative tree, cut
    at the distance threshold or at the number of groups (default: one per ``CODES_PER_GROUP`` codes)."""
    count = len(distances)
    if count < 3:
        return [1] * count, None
    tree = linkage(squareform(distances, checks=False), method=options.linkage)
    if options.distance_threshold is not None:
        labels = _cut(tree, options.distance_threshold, "distance")
    else:
        labels = _cut(tree, options.groups or max(2, round(count / CODES_PER_GROUP)), "maxclust")
    return labels, _silhouette(distances, labels)


def _cut(tree: Matrix, value: float, criterion: Literal["distance", "maxclust"]) -> list[int]:
    return [int(label) for label in fcluster(tree, value, criterion=criterion)]


def _silhouette(distances: Matrix, labels: Sequence[int]) -> float | None:
    if not 2 <= len(set(labels)) < len(labels):
        return None
    return float(silhouette_score(distances, labels, metric="precomputed"))


def propose(
    codes: Sequence[Code],
    vectors: Sequence[Sequence[float]],
    placements: Sequence[Placement],
    options: AxialOptions,
    *,
    codebook_id: str | None = None,
    codebook_version: int | None = None,
) -> AxialProposal:
    """Group ``codes`` (one vector each, in order) into named categories, largest group first."""
    ids = [code.id for code in codes]
    placed = {placement.code_id for placement in placements}
    distances = combined_distances(
        cosine_distances(vectors) if codes else np.zeros((0, 0)),
        cooccurrence(ids, placements, options.adjacency),
        [code_id in placed for code_id in ids],
        options.embedding_weight,
    )
    labels, silhouette = cluster(distances, options)
    groups = []
    for label in sorted(set(labels)):
        members = [index for index, found in enumerate(labels) if found == label]
        within = distances[np.ix_(members, members)]
        medoid = members[int(within.sum(axis=1).argmin())]
        groups.append(
            ProposedGroup(
                name=codes[medoid].name,
                medoid_code_id=codes[medoid].id,
                code_ids=[codes[index].id for index in members],
                code_names=[codes[index].name for index in members],
                spread=round(float(distances[medoid, members].mean()), 4),
            )
        )
    groups.sort(key=lambda group: (-len(group.code_ids), group.name))
    return AxialProposal(
        codebook_id=codebook_id,
        codebook_version=codebook_version,
        codes=len(codes),
        groups=groups,
        options=options,
        chosen_groups=len(groups),
        silhouette=None if silhouette is None else round(silhouette, 4),
    )


def apply_grouping(project_id: str, codes: Sequence[Code], groups: Sequence[GroupToApply]) -> list[Code]:
    """The codebook's codes with each group's codes nested under the group's code.

    A group named like an existing code (the proposal names groups after their medoid) promotes that code
    to the category; any other name creates a new code (id derived from the project and the name, as for
    codes created in review), placed just before its first member. Codes in no group keep their place and
    parent."""
    by_id = {code.id: code for code in codes}
    by_name = {same_name_key(code.name): code for code in codes}
    names = [same_name_key(group.name) for group in groups]
    if len(set(names)) != len(names):
        raise GroupingError("two groups have the same name")
    parent_of: dict[str, str] = {}
    new_parents: dict[str, Code] = {}  # first member -> the new category code placed before it
    updated: dict[str, Code] = {}
    for group in groups:
        unknown = [code_id for code_id in group.code_ids if code_id not in by_id]
        if unknown:
            raise GroupingError(f"the codebook has no code with id {unknown[0]!r}")
        name = group.name.strip()
        parent = by_name.get(same_name_key(name))
        if parent is None:
            parent = Code(id=derived_id("code", project_id, same_name_key(name)), name=name)
            if parent.id in by_id:
                raise GroupingError(f"a former code was called {name!r}: choose another name")
            new_parents[group.code_ids[0]] = parent
        if group.definition.strip():
            parent = parent.model_copy(update={"definition": group.definition.strip()})
        updated[parent.id] = parent
        for code_id in group.code_ids:
            if code_id == parent.id:
                continue
            if code_id in parent_of:
                raise GroupingError(f"code {by_id[code_id].name!r} is in two groups")
            parent_of[code_id] = parent.id
    result: list[Code] = []
    for code in codes:
        if code.id in new_parents:
            result.append(updated[new_parents[code.id].id])
        current = updated.get(code.id, code)
        result.append(current.model_copy(update={"parent_id": parent_of.get(code.id, current.parent_id)}))
    _check_acyclic(result)
    return result


def _check_acyclic(codes: Sequence[Code]) -> None:
    parents = {code.id: code.parent_id for code in codes}
    names = {code.id: code.name for code in codes}
    for start in parents:
        seen = {start}
        current = parents[start]
        while current is not None:
            if current in seen:
                raise GroupingError(f"the grouping nests {names[start]!r} inside itself")
            seen.add(current)
            current = parents.get(current)


def agreement(reference: Sequence[str], predicted: Sequence[int]) -> Agreement:
    """Adjusted Rand index and normalised mutual information of a grouping against a reference one."""
    return Agreement(
        items=len(reference),
        reference_groups=len(set(reference)),
        predicted_groups=len(set(predicted)),
        adjusted_rand_index=round(float(adjusted_rand_score(reference, predicted)), 4),
        normalized_mutual_information=round(float(normalized_mutual_info_score(reference, predicted)), 4),
    )
