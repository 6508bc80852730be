"""Benchmark datasets in the format ``groundcode eval dataset`` reads, built from their sources (re-runnable).

A dataset folder holds ``units.csv`` (``id``, ``text``, one column per coder with that coder's code names
separated by ``;``, an empty cell meaning "no code applies"), ``codebook.yaml`` (groundcode's codebook
format; units use leaf codes only) and ``README.md`` (what it is, how it was generated); sets derived from
ci_claims also carry its MIT ``LICENSE``. Everything but reading sources and writing folders is pure.

    python -m eval.benchmark_sets ci-claims /work/shared/datasets/ci_claims eval/datasets/ci_claims
    python -m eval.benchmark_sets seeds eval/datasets
    python -m eval.benchmark_sets generated /work/shared/datasets/ci_claims eval/datasets
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from eval import seeds
from groundcode.codebook_io import format_codebook_yaml
from groundcode.domain import Code, derived_id

SEED = 0
SEPARATOR = ";"
GOLD = "gold"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Unit(_Model):
    id: str
    text: str
    codes: dict[str, list[str]]  # coder -> code names ([] = no code applies)


class BenchmarkSet(_Model):
    name: str  # the folder's name
    about: str  # the README: what it is and how it was generated
    coders: list[str]
    codes: list[Code]  # parents before children; units use leaves only
    units: list[Unit]
    license: str | None = None  # copied as LICENSE
    source: str | None = None  # written as SOURCE.md


def make_code(name: str, parent: str | None = None, **text: str) -> Code:
    """A code whose id (and its parent's) derives from the name, as in a codebook file."""
    parent_id = derived_id("benchmark", parent) if parent else None
    return Code(id=derived_id("benchmark", name), name=name, parent_id=parent_id, **text)


def leaves(codes: Sequence[Code]) -> list[Code]:
    parents = {code.parent_id for code in codes}
    return [code for code in codes if code.id not in parents]


def raw_agreement(units: Sequence[Unit], first: str, second: str) -> float:
    """Share of units on which two coders gave the same set of codes."""
    return sum(set(u.codes[first]) == set(u.codes[second]) for u in units) / len(units)


# ci_claims ----------------------------------------------------------------------------------------------

CI_CODERS = (GOLD, "annotator_1", "annotator_2")
# Short names the prompt's disambiguation rules use, to the codes they mean.
CI_RULE_KEYS = {
    "TECHNICAL": "CI IS ASSOCIATED WITH TECHNICAL CHALLENGES",
    "HUMAN": "CI IS ASSOCIATED WITH HUMAN CHALLENGES",
    "ORGANIZATIONAL": "CI IS ASSOCIATED WITH ORGANIZATIONAL CHALLENGES",
    "DEFECTS": "CI IS ASSOCIATED WITH DEFECTS REDUCTION",
    "ISSUES": "CI IS ASSOCIATED WITH ISSUES REDUCTION",
    "INCREASING": "CI IS RELATED TO PRODUCTIVITY AND EFFICIENCY INCREASING",
    "DECREASED PERCEPTION": "CI IS ASSOCIATED WITH A DECREASED PERCEPTION OF PRODUCTIVITY",
    "FALSE SENSE": "CI MAY GENERATE A FALSE SENSE OF CONFIDENCE",
    "IMPROVEMENT": "CI IS ASSOCIATED WITH CONFIDENCE IMPROVEMENT",
    "RELIABILITY": "CI IS ASSOCIATED WITH AN IMPROVEMENT IN PROCESS RELIABILITY",
    "AUTOMATION": "CI IS ASSOCIATED WITH AN IMPROVEMENT IN PROCESS AUTOMATION",
    "BUILD HEALTH": "CI IS ASSOCIATED WITH BUILD HEALTH",
    "DECREASING": "CI IS ASSOCIATED WITH A DECREASING IN BUILD TIME",
    "SOFTWARE DEVELOPMENT BENEFITS": "CI IS ASSOCIATED WITH SOFTWARE DEVELOPMENT BENEFITS",
}
# Code names spelt differently in the gold JSON or the annotator sheets (after ignoring case and spacing),
# to the prompt's spelling. The files of commit 0350a12 need none; a new spelling fails the conversion.
CI_NAME_FIXES: dict[str, str] = {}


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def ci_taxonomy(prompt: str) -> list[tuple[str, list[str]]]:
    """The prompt's themes, each with its codes, in the prompt's order."""
    taxonomy: list[tuple[str, list[str]]] = []
    for line in prompt.split("=== CODEBOOK ===")[1].split("===")[0].splitlines():
        if theme := re.fullmatch(r"-- THEME: (.+?) --", line.strip()):
            taxonomy.append((theme[1], []))
        elif line.startswith("- "):
            taxonomy[-1][1].append(line[2:].strip())
    return taxonomy


def ci_rules(prompt: str) -> list[dict[str, str]]:
    """The disambiguation rules: per rule, each code it names and what the rule says of it."""
    rules: list[dict[str, str]] = []
    last = ""
    for line in prompt.split("=== DISAMBIGUATION RULES ===")[1].split("===")[0].splitlines():
        single = re.fullmatch(r"- ([A-Z ]+): (.+)", line.strip())
        if line.startswith("- "):
            rules.append({})
            if single and " vs " not in line:
                last = CI_RULE_KEYS[single[1]]
                rules[-1][last] = single[2]
        elif entry := re.fullmatch(r"\s+([A-Z ]+?)\s*:\s*(.+)", line):
            last = CI_RULE_KEYS[entry[1]]
            rules[-1][last] = entry[2].strip()
        elif line.strip():
            rules[-1][last] += " " + line.strip()  # a rule's continuation line
    return rules


def ci_codebook(prompt: str) -> list[Code]:
    """Themes as parents of their codes; a code a rule names is defined by it, the rule's other codes
    are its exclusion."""
    ruled = {code: (text, rule) for rule in ci_rules(prompt) for code, text in rule.items()}
    codes: list[Code] = []
    for theme, names in ci_taxonomy(prompt):
        codes.append(make_code(theme))
        for name in names:
            text, rule = ruled.get(name, ("", {}))
            others = " ".join(f"{other}: {rule[other]}" for other in rule if other != name)
            codes.append(make_code(name, theme, definition=text, exclusion=others))
    return codes


def ci_annotations(sheet: str) -> dict[str, tuple[str, str]]:
    """An annotator's sheet: claim id -> (claim text, code). Theme rows and the header are skipped."""
    rows = csv.reader(io.StringIO(sheet))
    return {row[1]: (row[2], row[3]) for row in rows if row and row[0].strip().isdigit()}


def ci_claims(gold_json: str, sheets: Mapping[str, str], prompt: str, license: str) -> BenchmarkSet:
    """The 113 claims, their gold code and each annotator's code, with the prompt's codebook."""
    codes = ci_codebook(prompt)
    known = {_key(code.name): code.name for code in leaves(codes)}

    def canonical(name: str) -> str:
        name = CI_NAME_FIXES.get(name, name)
        if _key(name) not in known:
            raise ValueError(f"ci_claims: code {name!r} is not in the prompt's codebook")
        return known[_key(name)]

    annotations = {coder: ci_annotations(sheet) for coder, sheet in sheets.items()}
    units = []
    for claim in json.loads(gold_json):
        text = claim["input"]["claim"]
        labels = {GOLD: [canonical(claim["labels"]["code"])]}
        for coder, sheet in annotations.items():
            sheet_text, code = sheet[claim["paper_id"]]
            if sheet_text != text:
                raise ValueError(f"ci_claims: {coder} has another text for {claim['paper_id']}")
            labels[coder] = [canonical(code)]
        units.append(Unit(id=claim["paper_id"], text=text, codes=labels))
    agreement = raw_agreement(units, "annotator_1", "annotator_2")
    return BenchmarkSet(
        name="ci_claims",
        about=(
            "113 claims on continuous integration, one of 31 codes (under 6 themes) each: the gold coding "
            f"and two independent annotators (raw agreement annotator_1/annotator_2 {agreement:.3f}). "
            "Converted by `python -m eval.benchmark_sets ci-claims SOURCE_FOLDER eval/datasets/ci_claims`; "
            "see SOURCE.md."
        ),
        coders=list(CI_CODERS),
        codes=codes,
        units=units,
        license=license,
        source=CI_SOURCE,
    )


CI_SOURCE = """# Source

From github.com/moaathalshaikh/llm-confidence-routing-for-deductive-coding, commit
0350a1240e3de94edb6bcc5d61198724f5560c8d (MIT, see LICENSE): `data/02_dataset_gold_CI.json` (claims,
gold code), `data/human_annotator_1.csv`, `data/human_annotator_2.csv` (two independent annotators) and
`prompts/prompt_L1.txt` (the taxonomy and its disambiguation rules). The claims come from the replication
package of Soares et al. (2022), *The effects of continuous integration on software development: a systematic
literature review*, Empirical Software Engineering 27(3), 78, https://doi.org/10.1007/s10664-021-10114-1
(Zenodo https://doi.org/10.5281/zenodo.4545623); cite both when reusing.

Conversion (`eval/benchmark_sets.py`, `ci_claims`):

* `units.csv`: one row per claim in the JSON's order; `id` the claim id, `text` the claim verbatim (double
  spaces kept); `gold` the JSON's code, `annotator_1` and `annotator_2` the sheets' codes (the sheets' claim
  texts are checked equal to the JSON's). Code names are matched ignoring case and spacing; no spelling needed
  mapping (all 31 names agree across the four files).
* `codebook.yaml`: the prompt's 6 themes as parents of its 31 codes. The JSON puts
  `CI IS ASSOCIATED WITH ORGANIZATIONAL CHALLENGES` under DEVELOPMENT ACTIVITIES, the prompt (and the
  source README's counts, 9 and 9) under SOFTWARE PROCESS; the prompt is followed. The prompt gives no
  definitions; a code named in a disambiguation rule gets the rule's text as its definition and the rule's
  other codes as its exclusion (14 codes); the other codes have only their name. No examples (they would be
  units).
* The annotators saw the claims grouped under their gold theme (choosing among ~5 codes, not 31), so their
  agreement with gold and with each other is an optimistic ceiling.
"""


def load_ci_claims(folder: Path) -> BenchmarkSet:
    def read(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    sheets = {f"annotator_{n}": read(f"human_annotator_{n}.csv") for n in (1, 2)}
    return ci_claims(read("02_dataset_gold_CI.json"), sheets, read("prompt_L1.txt"), read("LICENSE"))


# The seed tasks ------------------------------------------------------------------------------------------

SEED_TASKS: dict[str, tuple[str, Callable[[seeds.Dataset], seeds.AxialDataset]]] = {
    "seed_subtheme_theme": (seeds.THEMES_FILE, seeds.subtheme_to_theme),
    "seed_code_image": (seeds.INITIAL_CODES_FILE, seeds.code_to_image),
    "seed_concept_component": (seeds.PARADIGM_FILE, seeds.concept_to_component),
}


def axial_set(name: str, dataset: seeds.AxialDataset) -> BenchmarkSet:
    """A seed task: each child text a unit, its parents the gold codes, the parents a flat codebook."""
    return BenchmarkSet(
        name=name,
        about=(
            f"The `{dataset.name}` seed task ({dataset.description}; `eval/datasets/{dataset.file}`, version "
            f"{dataset.version}): each child text a unit, gold its parent(s). Written by "
            "`python -m eval.benchmark_sets seeds eval/datasets`."
        ),
        coders=[GOLD],
        codes=[make_code(parent.name, definition=parent.definition) for parent in dataset.parents],
        units=[
            Unit(id=f"U{number:03d}", text=unit.text, codes={GOLD: unit.gold})
            for number, unit in enumerate(dataset.units, start=1)
        ],
    )


def seed_sets() -> list[BenchmarkSet]:
    return [axial_set(name, build(seeds.load(file))) for name, (file, build) in SEED_TASKS.items()]


# Generated sets ------------------------------------------------------------------------------------------


def _relabel(units: Iterable[Unit], rename: Mapping[str, str]) -> list[Unit]:
    return [
        unit.model_copy(update={"codes": {c: sorted(rename[n] for n in ns) for c, ns in unit.codes.items()}})
        for unit in units
    ]


def opaque(base: BenchmarkSet, seed: int = SEED) -> BenchmarkSet:
    """The same units and coders, the leaf codes renamed K01, K02, ... in a seeded random order, without
    definitions, examples or parents: their names say nothing, only learning from decisions finds them."""
    names = [code.name for code in leaves(base.codes)]
    random.Random(f"opaque:{base.name}:{seed}").shuffle(names)
    rename = {name: f"K{number:02d}" for number, name in enumerate(names, start=1)}
    return base.model_copy(
        update={
            "name": f"opaque_{base.name}",
            "about": (
                f"`{base.name}` with its {len(names)} codes renamed K01-K{len(names):02d} in a seeded random "
                f"order (seed {seed}), definitions, examples and parents removed: zero-shot cannot guess "
                "them, only learning from decisions can. Generated by "
                "`python -m eval.benchmark_sets generated`."
            ),
            "codes": [make_code(new) for new in sorted(rename.values())],
            "units": _relabel(base.units, rename),
            "source": None,
        }
    )


def noise(base: BenchmarkSet, seed: int = SEED) -> BenchmarkSet:
    """The same units and codebook, the reference coder's labels shuffled across units (seeded; each code
    keeps its frequency): the labels are noise, so learning from them must not pull the ranking below
    zero-shot."""
    labels = [unit.codes[base.coders[0]] for unit in base.units]
    random.Random(f"noise:{base.name}:{seed}").shuffle(labels)
    return base.model_copy(
        update={
            "name": f"noise_{base.name}",
            "about": (
                f"`{base.name}`'s units and codebook with the `{base.coders[0]}` labels shuffled across "
                f"units (seed {seed}; code frequencies kept, other coders dropped): the labels are noise. "
                "Generated by `python -m eval.benchmark_sets generated`."
            ),
            "coders": [GOLD],
            "units": [
                Unit(id=unit.id, text=unit.text, codes={GOLD: label})
                for unit, label in zip(base.units, labels, strict=True)
            ],
            "source": None,
        }
    )


def combined(base: BenchmarkSet, seed: int = SEED, sizes: Sequence[int] = (1, 2, 3)) -> BenchmarkSet:
    """Multi-label: the units shuffled (seeded) and joined in runs of 1, 2, 3, 1, ... units; each coder's
    codes are the union of theirs on the joined units."""
    shuffled = list(base.units)
    random.Random(f"combined:{base.name}:{seed}").shuffle(shuffled)
    runs: list[list[Unit]] = []
    while shuffled:
        size = sizes[len(runs) % len(sizes)]
        runs.append(shuffled[:size])
        shuffled = shuffled[size:]
    units = [
        Unit(
            id="+".join(unit.id for unit in run),
            text=" ".join(unit.text.strip().removesuffix(".") + "." for unit in run),
            codes={coder: sorted({n for unit in run for n in unit.codes[coder]}) for coder in base.coders},
        )
        for run in runs
    ]
    return base.model_copy(
        update={
            "name": f"multi_{base.name}",
            "about": (
                f"Multi-label: `{base.name}`'s units shuffled (seed {seed}) and joined in runs of "
                f"{', '.join(map(str, sizes))}, ... units (each ending with a full stop); a coder's codes "
                "are the union of theirs. The id joins the source ids. Generated by "
                "`python -m eval.benchmark_sets generated`."
            ),
            "units": units,
            "source": None,
        }
    )


_TURN = re.compile(r"^(?:\[[\d:]+\]\s*)?([^\s:][^:]{0,40}):\s*(.+)$")
INTERVIEWER_LABELS = ("Interviewer", "مصاحبه‌گر")


def distractors(transcript: str) -> list[str]:
    """Texts no code should apply to: the front matter before the first speaker turn (one unit per
    sentence) and the interviewer's turns."""
    texts: list[str] = []
    started = False
    for line in filter(None, map(str.strip, transcript.splitlines())):
        turn = _TURN.match(line)
        started = started or turn is not None
        if not started:
            texts += [part for part in re.split(r"(?<=[.!?])\s+", line) if part]
        elif turn and turn[1] in INTERVIEWER_LABELS:
            texts.append(turn[2])
    return list(dict.fromkeys(texts))


def with_distractors(base: BenchmarkSet, texts: Sequence[str], origin: str, seed: int = SEED) -> BenchmarkSet:
    """The units and, at seeded random places, the texts as units no coder coded ("no code applies")."""
    units = list(base.units)
    place = random.Random(f"none:{base.name}:{seed}")
    for number, text in enumerate(texts, start=1):
        unit = Unit(id=f"D{number:02d}", text=text, codes={coder: [] for coder in base.coders})
        units.insert(place.randint(0, len(units)), unit)
    return base.model_copy(
        update={
            "name": f"none_{base.name}",
            "about": (
                f"`{base.name}` plus {len(texts)} units that no code applies to (empty cell for every coder, "
                f"ids D01-D{len(texts):02d}): the front matter and interviewer turns of `{origin}`, inserted "
                f"at seeded random places (seed {seed}). Generated by "
                "`python -m eval.benchmark_sets generated`."
            ),
            "units": units,
            "source": None,
        }
    )


def sample_distractors(name: str) -> list[str]:
    return distractors((resources.files("groundcode") / "samples" / name).read_text(encoding="utf-8"))


def generated_sets(ci: BenchmarkSet, seed: int = SEED) -> list[BenchmarkSet]:
    """The generated sets, from ci_claims and the seed tasks."""
    code_image = next(s for s in seed_sets() if s.name == "seed_code_image")
    english, persian = "interview_01_en.txt", "interview_02_fa.txt"
    return [
        opaque(ci, seed),
        opaque(code_image, seed),
        noise(ci, seed),
        noise(code_image, seed),
        combined(ci, seed),
        with_distractors(ci, sample_distractors(english), f"groundcode/samples/{english}", seed),
        with_distractors(code_image, sample_distractors(persian), f"groundcode/samples/{persian}", seed),
    ]


# Files ---------------------------------------------------------------------------------------------------


def units_csv(dataset: BenchmarkSet) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "text", *dataset.coders])
    for unit in dataset.units:
        writer.writerow([unit.id, unit.text, *(SEPARATOR.join(unit.codes[c]) for c in dataset.coders)])
    return buffer.getvalue()


def readme(dataset: BenchmarkSet) -> str:
    coders = ", ".join(dataset.coders)
    counts = f"{len(dataset.units)} units, {len(leaves(dataset.codes))} codes, coders: {coders}."
    return f"# {dataset.name}\n\n{dataset.about}\n\n{counts}\n"


def write_set(dataset: BenchmarkSet, folder: Path) -> None:
    """Write the dataset's files into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "units.csv": units_csv(dataset),
        "codebook.yaml": format_codebook_yaml(dataset.name, dataset.codes),
        "README.md": readme(dataset),
        "LICENSE": dataset.license,
        "SOURCE.md": dataset.source,
    }
    for name, text in files.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.benchmark_sets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("ci-claims", help="convert ci_claims into OUT")
    one.add_argument("source", type=Path)
    one.add_argument("out", type=Path)
    commands.add_parser("seeds", help="the seed tasks into OUT/seed_*").add_argument("out", type=Path)
    generated = commands.add_parser("generated", help="opaque_*, noise_*, multi_*, none_* into OUT")
    generated.add_argument("source", type=Path, help="the ci_claims folder")
    generated.add_argument("out", type=Path)
    generated.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.command == "ci-claims":
        sets = [load_ci_claims(args.source)]
        folders = [args.out]
    else:
        if args.command == "seeds":
            sets = seed_sets()
        else:
            sets = generated_sets(load_ci_claims(args.source), args.seed)
        folders = [args.out / dataset.name for dataset in sets]
    for dataset, folder in zip(sets, folders, strict=True):
        write_set(dataset, folder)
        print(f"{folder}: {len(dataset.units)} units, {len(leaves(dataset.codes))} codes")


if __name__ == "__main__":
    main()
