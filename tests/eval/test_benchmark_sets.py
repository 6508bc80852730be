"""The benchmark datasets of ``eval/datasets/``: their counts, and that the module rebuilds them unchanged."""

from __future__ import annotations

import csv
import io
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from eval.benchmark_sets import (
    GOLD,
    BenchmarkSet,
    combined,
    distractors,
    generated_sets,
    leaves,
    load_ci_claims,
    noise,
    opaque,
    raw_agreement,
    seed_sets,
    with_distractors,
    write_set,
)
from groundcode.codebook_io import parse_codebook

CI_SOURCE = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ci_claims"  # beside the clone
DATASETS = Path(str(resources.files("eval") / "datasets"))
needs_ci = pytest.mark.skipif(not CI_SOURCE.is_dir(), reason="the ci_claims source folder is not here")


@pytest.fixture(scope="module")
def ci() -> BenchmarkSet:
    return load_ci_claims(CI_SOURCE)


def rows(folder: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((folder / "units.csv").read_text(encoding="utf-8"))))


def coded(dataset: BenchmarkSet) -> set[str]:
    return {name for unit in dataset.units for names in unit.codes.values() for name in names}


@needs_ci
def test_ci_claims_has_113_units_31_codes_under_6_themes_and_two_annotators(ci: BenchmarkSet) -> None:
    folder = DATASETS / "ci_claims"
    codes = parse_codebook(
        "codebook.yaml", (folder / "codebook.yaml").read_text(encoding="utf-8"), namespace="t"
    )
    by_id = {code.id: code for code in codes}
    leaf = {code.name: by_id[code.parent_id].name for code in codes if code.parent_id}

    assert len(codes) == 37 and len(leaf) == 31
    assert Counter(leaf.values()) == {
        "BUILD PATTERNS": 2,
        "QUALITY ASSURANCE": 4,
        "INTEGRATION PATTERNS": 4,
        "ISSUES AND DEFECTS": 3,
        "DEVELOPMENT ACTIVITIES": 9,
        "SOFTWARE PROCESS": 9,
    }
    assert leaf["CI IS ASSOCIATED WITH ORGANIZATIONAL CHALLENGES"] == "SOFTWARE PROCESS"  # the prompt's theme
    assert sum(bool(code.definition) for code in codes) == 14  # the codes the disambiguation rules name
    units = rows(folder)
    assert len(units) == 113 and list(units[0]) == ["id", "text", "gold", "annotator_1", "annotator_2"]
    assert {row[c] for row in units for c in ("gold", "annotator_1", "annotator_2")} <= set(leaf)
    assert len({row["gold"] for row in units}) == 31
    assert round(raw_agreement(ci.units, "annotator_1", "annotator_2"), 3) == 0.947
    assert round(raw_agreement(ci.units, GOLD, "annotator_1"), 3) == 0.912
    assert round(raw_agreement(ci.units, GOLD, "annotator_2"), 3) == 0.938
    assert (folder / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_seed_tasks_keep_their_counts() -> None:
    sets = {dataset.name: dataset for dataset in seed_sets()}
    counts = {
        name: (len(s.units), len(s.codes), Counter(len(u.codes[GOLD]) for u in s.units))
        for name, s in sets.items()
    }

    assert counts == {
        "seed_subtheme_theme": (123, 23, {1: 118, 2: 5}),
        "seed_code_image": (253, 3, {1: 249, 2: 4}),
        "seed_concept_component": (30, 5, {1: 30}),
    }
    assert all(code.definition for code in sets["seed_concept_component"].codes)
    assert [row["gold"] for row in rows(DATASETS / "seed_code_image")].count("") == 0


@needs_ci
def test_the_folders_are_what_the_module_writes(ci: BenchmarkSet, tmp_path: Path) -> None:
    for dataset in [ci, *seed_sets(), *generated_sets(ci)]:
        write_set(dataset, tmp_path / dataset.name)
        for file in (tmp_path / dataset.name).iterdir():
            assert file.read_text(encoding="utf-8") == (DATASETS / dataset.name / file.name).read_text(
                encoding="utf-8"
            ), f"{dataset.name}/{file.name}: run python -m eval.benchmark_sets"
        assert len(dataset.units) <= 600 and coded(dataset) <= {code.name for code in leaves(dataset.codes)}
        assert (DATASETS / dataset.name / "README.md").is_file()


@needs_ci
def test_opaque_codes_say_nothing_but_keep_every_coders_partition(ci: BenchmarkSet) -> None:
    hidden = opaque(ci)

    assert [code.name for code in hidden.codes] == [f"K{n:02d}" for n in range(1, 32)]
    assert not any(
        code.definition or code.exclusion or code.examples or code.parent_id for code in hidden.codes
    )
    assert [u.text for u in hidden.units] == [u.text for u in ci.units]
    for coder in ci.coders:
        pairs = {(u.codes[coder][0], h.codes[coder][0]) for u, h in zip(ci.units, hidden.units, strict=True)}
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})  # a renaming
    assert opaque(ci) == hidden and opaque(ci, seed=1) != hidden


@needs_ci
def test_noise_shuffles_the_labels_and_keeps_their_frequencies(ci: BenchmarkSet) -> None:
    noisy = noise(ci)

    assert noisy.coders == [GOLD] and noisy.codes == ci.codes
    assert Counter(u.codes[GOLD][0] for u in noisy.units) == Counter(u.codes[GOLD][0] for u in ci.units)
    assert [u.text for u in noisy.units] == [u.text for u in ci.units]
    same = sum(n.codes[GOLD] == u.codes[GOLD] for n, u in zip(noisy.units, ci.units, strict=True))
    assert same == 5  # of 113: chance, not the real coding
    assert noise(ci) == noisy


@needs_ci
def test_multi_label_units_join_claims_and_union_their_codes(ci: BenchmarkSet) -> None:
    multi = combined(ci)

    assert len(multi.units) == 57 and sum(len(u.id.split("+")) for u in multi.units) == 113
    assert Counter(len(u.id.split("+")) for u in multi.units) == {1: 19, 2: 20, 3: 18}
    assert max(len(u.codes[GOLD]) for u in multi.units) == 3
    gold = {u.id: u.codes[GOLD][0] for u in ci.units}
    for unit in multi.units:
        assert unit.codes[GOLD] == sorted({gold[part] for part in unit.id.split("+")})


def test_distractors_are_front_matter_sentences_and_interviewer_turns() -> None:
    transcript = (
        "Interview 09 - Budgets\nRecorded online, 41 minutes. Names removed.\n\n"
        "[00:00:10] Interviewer: What changed?\n\nP1: The budget was cut.\n\nInterviewer: What changed?\n"
    )

    assert distractors(transcript) == [
        "Interview 09 - Budgets",
        "Recorded online, 41 minutes.",
        "Names removed.",
        "What changed?",
    ]


@needs_ci
def test_no_code_applies_units_are_empty_for_every_coder(ci: BenchmarkSet) -> None:
    padded = with_distractors(ci, ["What about privacy?", "Duration: 41 minutes."], "a test")
    empty = [u for u in padded.units if not any(u.codes.values())]

    assert sorted(u.text for u in empty) == ["Duration: 41 minutes.", "What about privacy?"]
    assert len(padded.units) == 115 and all(u.codes == {c: [] for c in ci.coders} for u in empty)
    written = rows(DATASETS / "none_ci_claims")
    assert len(written) == 142 and sum(not row["gold"] for row in written) == 29
