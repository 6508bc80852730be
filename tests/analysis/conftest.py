"""The analysis tests' study: 15 interviews (one in Persian), imported through the real pipeline and coded
by hand through the HTTP API once per session (a coder codes every answer, the owner the first interview
again). Each test gets a copy: as a data folder, or served with the adjudication tests' team of an owner,
a coder, a viewer and an outsider."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.adjudication.conftest import Team, team
from tests.analysis.study import coded_study

__all__ = ["Team", "team"]


@pytest.fixture(scope="session")
def prepared_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder of the coded study (``team`` serves a copy of it)."""
    return coded_study(tmp_path_factory.mktemp("analysis-study"))


@pytest.fixture
def study_data(prepared_study: Path, tmp_path: Path) -> Path:
    """A copy of the coded study's data folder, for the command line."""
    return Path(shutil.copytree(prepared_study, tmp_path / "data"))
