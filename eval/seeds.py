"""The published codebooks of the seed papers (``eval/datasets/*.yaml``) and the gold tasks built from them.

Loading reads the packaged YAML files; everything else here is pure. An axial-assignment dataset turns
a codebook's parents into the codes to choose from and each distinct child text into a unit whose gold is
the set of parents it is listed under (a text listed under two parents has two gold labels).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class TaskName(StrEnum):
    """The evaluation tasks built from the seed papers (``groundcode eval NAME``)."""

    SUBTHEME_THEME = "subtheme-theme"
    CODE_IMAGE = "code-image"
    CONCEPT_COMPONENT = "concept-component"
    OPEN_CODING = "open-coding"


DATASETS = resources.files("eval") / "datasets"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# The files as transcribed.


class Theme(_Model):
    name: str
    sub_themes: list[str]


class Dimension(_Model):
    """Seed 002, Tables 3-5: one image (dimension) with its main themes and their sub-themes."""

    dimension: str
    table: int
    themes: list[Theme]


class Image(_Model):
    """Seed 002, Table 2: one image with its initial codes, repeats included, and the count printed."""

    image: str
    stated_count: int
    initial_codes: list[str]


class Concept(_Model):
    name: str
    category: str | None  # None where the paper lists the component's concepts for all its categories


class Component(_Model):
    """Seed 000: one component of Strauss and Corbin's paradigm model."""

    component: str
    definition: str
    categories: list[str]
    concepts: list[Concept]


class ParadigmModel(_Model):
    source: str
    license: str
    stated_counts: dict[str, int]
    central_phenomenon: str
    components: list[Component]
    texts: dict[str, str]  # abstract and discussion, verbatim


class GovernmentStage(_Model):
    """Seed 001: one stage of the four-stage model of ICT in public organizations."""

    name: str
    stage: int
    organization: str
    modernization_level: str
    ict_role: str
    benefit: str
    definition: str


class StageModel(_Model):
    source: str
    stated_counts: dict[str, int]
    stages: list[GovernmentStage]


class Dataset(_Model):
    """A parsed dataset file and the version of its content."""

    file: str
    version: str  # the first 12 hex digits of the file's SHA-256
    data: Any


def load(file: str) -> Dataset:
    """A dataset file of ``eval/datasets`` as plain data, with its version."""
    raw = (DATASETS / file).read_bytes()
    return Dataset(file=file, version=hashlib.sha256(raw).hexdigest()[:12], data=yaml.safe_load(raw))


def themes(dataset: Dataset) -> list[Dimension]:
    return [Dimension.model_validate(item) for item in dataset.data]


def initial_codes(dataset: Dataset) -> list[Image]:
    return [Image.model_validate(item) for item in dataset.data]


def paradigm_model(dataset: Dataset) -> ParadigmModel:
    return ParadigmModel.model_validate(dataset.data)


def stage_model(dataset: Dataset) -> StageModel:
    return StageModel.model_validate(dataset.data)


THEMES_FILE = "seed002_themes.yaml"
INITIAL_CODES_FILE = "seed002_initial_codes.yaml"
PARADIGM_FILE = "seed000_paradigm_model.yaml"
STAGES_FILE = "seed001_stages.yaml"


# Axial assignment: child texts to their parents.


class Parent(_Model):
    name: str
    definition: str = ""


class Unit(_Model):
    text: str
    gold: list[str] = Field(min_length=1)  # sorted


class AxialDataset(_Model):
    """Codes to choose from and units with gold labels, from one dataset file."""

    name: str
    description: str
    file: str
    version: str
    parents: list[Parent]
    units: list[Unit]


def units_from_pairs(pairs: Iterable[tuple[str, str]]) -> list[Unit]:
    """One unit per distinct child text, in first-seen order; gold: every parent it is listed under."""
    gold: dict[str, set[str]] = {}
    for child, parent in pairs:
        gold.setdefault(child, set()).add(parent)
    return [Unit(text=child, gold=sorted(parents)) for child, parents in gold.items()]


def subtheme_to_theme(dataset: Dataset) -> AxialDataset:
    """Seed 002, Tables 3-5: each sub-theme to its main theme(s); the paper defines no theme."""
    dimensions = themes(dataset)
    every = [theme for dimension in dimensions for theme in dimension.themes]
    return AxialDataset(
        name="subtheme-theme",
        description="seed 002, Tables 3-5: sub-theme -> main theme (23 themes, multi-label gold)",
        file=dataset.file,
        version=dataset.version,
        parents=[Parent(name=name) for name in dict.fromkeys(theme.name for theme in every)],
        units=units_from_pairs((sub_theme, theme.name) for theme in every for sub_theme in theme.sub_themes),
    )


def code_to_image(dataset: Dataset) -> AxialDataset:
    """Seed 002, Table 2: each initial code to its image(s); the paper defines no image."""
    images = initial_codes(dataset)
    return AxialDataset(
        name="code-image",
        description="seed 002, Table 2: initial code -> image (3 images, multi-label gold)",
        file=dataset.file,
        version=dataset.version,
        parents=[Parent(name=image.image) for image in images],
        units=units_from_pairs((code, image.image) for image in images for code in image.initial_codes),
    )


def concept_to_component(dataset: Dataset) -> AxialDataset:
    """Seed 000: each concept named in the discussion to its paradigm-model component, defined as the
    paper describes it."""
    components = paradigm_model(dataset).components
    return AxialDataset(
        name="concept-component",
        description="seed 000: concept -> paradigm-model component (5 components)",
        file=dataset.file,
        version=dataset.version,
        parents=[Parent(name=item.component, definition=item.definition) for item in components],
        units=units_from_pairs(
            (concept.name, component.component) for component in components for concept in component.concepts
        ),
    )
