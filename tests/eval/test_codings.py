"""Human codings from CSV files, and a project with two human coders scored against each other and the model,
the values checked against ``eval.metrics`` on the same labels."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.codings import CodingsFileError, import_codings, parse_codings
from eval.metrics import krippendorff_alpha
from eval.projects import (
    MODEL,
    ModelSuggestion,
    ProjectInfo,
    ProjectOptions,
    copy_project,
    human_ratings,
    model_answer,
    model_answers,
    project_report,
    read_project,
    score_project,
    shown_suggestions,
)
from eval.scoring import AnswerScores, answer_scores, indicator, macro_f1, per_code_kappa, set_label, top1
from eval.tasks import RunOptions, provenance, suggest_codes
from groundcode.app import Groundcode, open_groundcode
from groundcode.cli import app
from groundcode.codebook_io import parse_codebook
from groundcode.domain import Decision, DecisionKind, Project, Role, SegmentUnit, Stage
from groundcode.interchange.projects import import_project
from groundcode.interchange.refiqda import read_project as read_qda
from groundcode.interchange.refiqda import write_project
from groundcode.settings import Settings
from groundcode.storage.suggestions import SuggestionFilter
from services.chunking.ingest import ReadOptions, import_file
from services.chunking.segmenter import ChunkOptions
from services.retrieval.embeddings import LocalE5Embedder
from tests.adjudication.conftest import CODEBOOK, ENGLISH, PERSIAN
from tests.interchange.support import TEXT, TRUST_QUOTE, persian_project

BUDGET = "The budget was cut again this year, so the new servers were never bought."
LETTERS = "We still send letters and attach files to emails between the agencies."
PORTAL = "Nobody trusts the new portal after the data leak last spring."
LAW = "The legal department says there is no legal basis for sharing the registry data."
FUNDING = "Funding for maintenance is always the first thing cut from the annual budget."
# Stored with Persian yeh and half-spaces; written here with an Arabic yeh (جديد) and without a half-space.
PERSIAN_TRUST = "مردم به سامانه جديد اعتماد ندارند"
PERSIAN_BUDGET = "بودجه پروژههای دیجیتال هر سال کم میشود"


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def prepare_study(settings: Settings) -> None:
    """Project "study": the English and Persian interviews chunked by turn, and the four-code codebook."""
    groundcode = open_groundcode(settings)
    try:
        project = groundcode.repository.ensure_project("study")
        for name, text in (("en.txt", ENGLISH), ("fa.txt", PERSIAN)):
            result = import_file(
                groundcode.repository,
                project.id,
                name,
                text.encode("utf-8"),
                ChunkOptions(unit=SegmentUnit.TURN),
                ReadOptions(max_bytes=10**6),
            )
            assert result.source_id is not None
            groundcode.handlers()[Stage.CHUNK](result.source_id)
        groundcode.repository.save_codebook(
            project.id, "themes", parse_codebook("codebook.yaml", CODEBOOK, namespace=project.id)
        )
    finally:
        groundcode.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    prepared = RunOptions().settings(Settings(), tmp_path / "user-data")
    prepare_study(prepared)
    return prepared


@pytest.fixture
def study(settings: Settings) -> Iterator[tuple[Groundcode, Project]]:
    groundcode = open_groundcode(settings)
    yield groundcode, groundcode.repository.get_project("study")
    groundcode.close()


def test_rows_are_located_exactly_or_in_the_normalised_view_and_the_rest_reported(
    study: tuple[Groundcode, Project],
) -> None:
    groundcode, project = study
    data = csv_bytes(
        [
            ["Text", "Code", "Coder", "Source", "comment"],
            [BUDGET, "Budget constraints", "alice", "", "ignored column"],
            [
                f"  {PORTAL}  ",
                "trust",
                "alice",
                "en",
                "",
            ],  # code matched without case, source without extension
            [PERSIAN_TRUST, "Trust", "alice", "fa.txt", ""],
            [PERSIAN_BUDGET, "Budget constraints", "bob", "", ""],
            ["budget", "Budget constraints", "bob", "", ""],  # twice in en.txt
            ["This sentence is in no interview.", "Trust", "bob", "", ""],
            [LETTERS, "Paperwork", "bob", "nowhere.txt", ""],  # no such source
            [LAW, "Paperwork", "bob", "", ""],  # a code the codebook lacks
        ]
    )

    result = import_codings(groundcode, project, data, where="codings.csv")

    assert (result.rows, result.located, result.normalized) == (8, 5, 2)
    assert [(u.row, u.reason) for u in result.unlocated] == [
        (6, "the text is 2 times in the project's sources (a source column can say which)"),
        (7, "the text is not in the project's sources"),
        (8, "the project has no source named 'nowhere.txt'"),
    ]
    assert result.new_codes == ["Paperwork"] and sorted(result.new_accounts) == ["alice", "bob"]
    codebook = groundcode.repository.latest_codebook(project.id)
    assert codebook is not None and codebook.version == 2 and codebook.codes[-1].name == "Paperwork"
    assert result.codebook_id == codebook.id
    decisions = groundcode.decisions.list(project.id)
    assert [d.id for d in decisions] == result.stored and {d.kind for d in decisions} == {DecisionKind.CODE}
    sources = {s.id: s for s in groundcode.repository.list_sources(project.id)}
    names = {code.id: code.name for code in codebook.codes}
    coded = [(sources[d.source_id or ""].text[d.start : d.end], names[d.code_id or ""]) for d in decisions]
    assert coded == [
        (BUDGET, "Budget constraints"),
        (PORTAL, "Trust"),
        ("مردم به سامانه جدید اعتماد ندارند", "Trust"),  # the stored spelling, at its exact offsets
        ("بودجه پروژه\u200cهای دیجیتال هر سال کم می\u200cشود", "Budget constraints"),
        (LAW, "Paperwork"),
    ]
    for decision in decisions:  # each on the segment that contains its span
        segment = groundcode.repository.get_segment(decision.segment_id or "")
        assert segment.start <= (decision.start or 0) < (decision.end or 0) <= segment.end
    accounts = groundcode.accounts
    for username in ("alice", "bob"):
        user = accounts.get_user(username)
        assert accounts.role(project.id, user.id) == Role.CODER
        assert accounts.check_password(username, "anything at all") is None  # no password

    again = import_codings(groundcode, project, data, where="codings.csv")
    assert (again.stored, again.known, again.new_codes, again.new_accounts) == ([], 5, [], [])
    assert len(groundcode.decisions.list(project.id)) == 5


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (csv_bytes([["text", "coder"], [BUDGET, "alice"]]), "no code column"),
        (
            csv_bytes([["text", "code", "coder"], [BUDGET, "Trust", "alice"], [PORTAL, "", "bob"]]),
            "row 3: no code",
        ),
        (csv_bytes([["text", "code"], [BUDGET, "Trust"]]), "row 2: no coder (add a coder column or --coder)"),
        (csv_bytes([["text", "code", "coder"], [BUDGET, "Trust", "Alice Smith"]]), "is not a username"),
        (csv_bytes([["text", "code", "coder"], [BUDGET, "Trust"]]), "row 2: 2 fields, the header has 3"),
        (BUDGET.encode("utf-16"), "not a UTF-8 CSV file"),
        (b"", "the file is empty"),
    ],
    ids=["no-code-column", "empty-code", "no-coder", "bad-username", "short-row", "utf-16", "empty"],
)
def test_a_malformed_file_stores_nothing(
    study: tuple[Groundcode, Project], data: bytes, problem: str
) -> None:
    groundcode, project = study
    # The first rows are fine: a malformed row further down still stops the whole file.
    with pytest.raises(CodingsFileError, match=re.escape(problem)):
        import_codings(groundcode, project, data, where="codings.csv")

    assert groundcode.decisions.list(project.id) == [] and groundcode.accounts.list_users() == []
    codebook = groundcode.repository.latest_codebook(project.id)
    assert codebook is not None and codebook.version == 1


def test_strict_refuses_codes_the_codebook_lacks(study: tuple[Groundcode, Project]) -> None:
    groundcode, project = study
    data = csv_bytes([["text", "code"], [BUDGET, "Budget constraints"], [LAW, "Paperwork"]])

    with pytest.raises(CodingsFileError, match="codes not in the codebook: Paperwork"):
        import_codings(groundcode, project, data, where="codings.csv", default_coder="carol", strict=True)

    assert groundcode.decisions.list(project.id) == [] and groundcode.accounts.list_users() == []
    assert [row.coder for row in parse_codings(data, default_coder="carol", where="x")] == ["carol", "carol"]


ALICE = [[BUDGET, "Budget constraints"], [LETTERS, "Inter-agency data sharing"], [PORTAL, "Trust"]]
ALICE += [[LAW, "Legal barriers"], [FUNDING, "Budget constraints"], [FUNDING, "Legal barriers"]]
# Bob leaves the funding turn out, calls the law turn data sharing, and codes only part of the budget turn.
BOB = [["The budget was cut again this year", "Budget constraints"], [LETTERS, "Inter-agency data sharing"]]
BOB += [[PORTAL, "Trust"], [LAW, "Inter-agency data sharing"]]


def code_both(groundcode: Groundcode, project: Project) -> None:
    for coder, rows in (("alice", ALICE), ("bob", BOB)):
        data = csv_bytes([["text", "code", "coder"], *([*row, coder] for row in rows)])
        assert not import_codings(groundcode, project, data, where=f"{coder}.csv").unlocated


def mark_no_code(groundcode: Groundcode, project: Project, coder: str, text: str) -> None:
    """``coder`` answers "no code applies" on the segment holding ``text``."""
    segment = next(
        segment
        for source in groundcode.repository.list_sources(project.id)
        for segment in groundcode.repository.list_segments(source.id)
        if text in segment.text
    )
    user, where = (
        groundcode.accounts.get_user(coder),
        {"segment_id": segment.id, "source_id": segment.source_id},
    )
    mark = Decision(project_id=project.id, coder_id=user.id, kind=DecisionKind.NO_CODE, **where)
    groundcode.decisions.append([mark])


def test_two_researchers_and_the_model_scored_as_sets_with_the_dataset_scores(
    study: tuple[Groundcode, Project], tmp_path: Path, e5: LocalE5Embedder
) -> None:
    """Each unit's answer is a set (the funding turn carries two codes for alice, "no code applies" for bob),
    scored with ``eval.scoring`` as ``groundcode eval dataset`` does; the model's abstentions are misses."""
    groundcode, project = study
    code_both(groundcode, project)
    mark_no_code(groundcode, project, "bob", FUNDING)
    data = read_project(groundcode, "study")
    evaluation = open_groundcode(RunOptions().settings(Settings(), tmp_path / "eval-data"))
    evaluation.embedder = e5
    try:
        setup = copy_project(evaluation, data, data.units)
        suggestions = suggest_codes(evaluation, setup)
        answers = model_answers(setup.segments, shown_suggestions(evaluation, setup), setup.codebook)
        options = ProjectOptions(project="study", resamples=50, seed=1)
        info = ProjectInfo(provenance=provenance(evaluation, suggestions), options=options)
    finally:
        evaluation.close()

    report = project_report(data.units, answers, data.codebook, info)

    assert [unit.text for unit in data.units] == [BUDGET, LETTERS, PORTAL, LAW, FUNDING]
    assert [segment.id for segment in setup.segments] == [unit.segment_id for unit in data.units]
    assert data.units[-1].no_code == ["bob"]
    budget, sharing, trust, legal = (
        "Budget constraints",
        "Inter-agency data sharing",
        "Trust",
        "Legal barriers",
    )
    alice = [[budget], [sharing], [trust], [legal], [budget, legal]]
    bob: list[list[str]] = [[budget], [sharing], [trust], [sharing], []]
    codes = [code.name for code in data.codebook.codes]
    model = [model_answer(found, codes, None) for found in answers]
    assert all(answer.ranked for answer in model)  # the offline backend ranks every code here
    scores = report.scores
    pairs = {(pair.reference, pair.coder): pair for pair in scores.pairs}
    assert list(pairs) == [("alice", "bob"), ("alice", MODEL), ("bob", MODEL)]
    human = pairs[("alice", "bob")]
    assert human.units == 5  # bob's "no code applies" is an answer
    assert not isinstance(human.scores, AnswerScores)
    assert human.scores.per_code_kappa.value == pytest.approx(
        per_code_kappa(indicator(alice, codes), indicator(bob, codes))
    )
    assert human.scores.macro_f1.value == pytest.approx(
        macro_f1(indicator(alice, codes), indicator(bob, codes))
    )
    assert human.scores.alpha.value == pytest.approx(
        krippendorff_alpha([[set_label(s) for s in alice], [set_label(s) for s in bob]])
    )
    # Span IoU on the (unit, code) pairs both coded: the partial budget coding, and two whole turns.
    partial = len("The budget was cut again this year") / len(BUDGET)
    assert human.span_pairs == 3 and human.span_iou == pytest.approx((partial + 1 + 1) / 3)
    for coder, gold in (("alice", alice), ("bob", bob)):
        with_model = pairs[(coder, MODEL)]
        assert with_model.units == 5 and isinstance(with_model.scores, AnswerScores)
        expected = answer_scores(gold, model, codes, seed=1, resamples=50)
        assert with_model.scores == expected
        assert with_model.scores.top1.value == pytest.approx(top1(gold, model))
    categories = [[set_label(s) for s in alice], [set_label(s) for s in bob]]
    model_categories = [set_label(answer.predicted) for answer in model]
    assert scores.alpha_all.value == pytest.approx(krippendorff_alpha([*categories, model_categories]))
    assert scores.alpha_humans.value == pytest.approx(krippendorff_alpha(categories))
    assert scores.model_abstained == sum(not answer.predicted for answer in model)
    assert [(c.coder, c.units, c.codings, c.no_code, c.whole_segment) for c in scores.coders] == [
        ("alice", 5, 6, 0, 6),
        ("bob", 5, 4, 1, 3),
    ]
    # With a reference coder: every other coder and the model against them only.
    against = score_project(data.units, answers, codes, reference="bob", seed=1, resamples=20)
    assert [(pair.reference, pair.coder) for pair in against.pairs] == [("bob", "alice"), ("bob", MODEL)]
    with pytest.raises(ValueError, match="carol"):
        score_project(data.units, answers, codes, reference="carol", seed=1, resamples=20)


def test_codings_import_and_eval_project_on_the_command_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    alice = tmp_path / "alice.csv"
    alice.write_bytes(csv_bytes([["text", "code"], *ALICE, ["not in any interview", "Trust"]]))
    bob = tmp_path / "bob.csv"
    bob.write_bytes(csv_bytes([["text", "code", "coder"], *([*row, "bob"] for row in BOB)]))

    malformed = runner.invoke(app, ["codings", "import", str(alice), "-p", "study"])
    assert (
        malformed.exit_code == 1 and "nothing imported" in malformed.output and "no coder" in malformed.output
    )
    imported = runner.invoke(app, ["codings", "import", str(alice), "-p", "study", "--coder", "alice"])
    assert imported.exit_code == 0, imported.output
    assert "codings: 6 imported" in imported.output and "row 8 not imported" in imported.output
    assert runner.invoke(app, ["codings", "import", str(bob), "-p", "study"]).exit_code == 0
    with closing(open_groundcode(settings)) as groundcode:  # the imported codings were learnt from
        project = groundcode.repository.get_project("study")
        learnt = groundcode.suggestions.matching(project.id, SuggestionFilter())

    result = runner.invoke(app, ["eval", "project", "-p", "study", "--resamples", "20"])

    assert result.exit_code == 0, result.output
    assert "alice" in result.output and MODEL in result.output and "Krippendorff's alpha" in result.output
    folder = tmp_path / "eval-reports" / "project" / "study"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["scores"]["units"] == 5 and len(report["scores"]["pairs"]) == 3
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "groundcode eval project --backend offline --seed 0 --project study --resamples 20" in markdown
    simulated = runner.invoke(
        app, ["eval", "simulate-review", "--dataset", "study", "--steps", "2", "--resamples", "20"]
    )
    assert simulated.exit_code == 0, simulated.output
    review = json.loads(
        (tmp_path / "eval-reports" / "simulate-review" / "study" / "report.json").read_text(encoding="utf-8")
    )
    # Gold: the codes either researcher gave; every gold code ends as one coding (accepted or by hand).
    assert [r["gold"] for r in review["reviewed"]] == [
        ["Budget constraints"],
        ["Inter-agency data sharing"],
        ["Trust"],
        ["Inter-agency data sharing", "Legal barriers"],
        ["Budget constraints", "Legal barriers"],
    ]
    cost = review["scores"]["learning"]
    assert cost["units"] == 5 and cost["accepted"] + cost["coded_by_hand"] == 7
    assert [point["reviewed"] for point in review["scores"]["curve"]] == [0, 3]
    assert runner.invoke(app, ["eval", "simulate-review", "--dataset", "nope"]).exit_code == 1
    against = runner.invoke(
        app, ["eval", "project", "-p", "study", "--reference", "bob", "--resamples", "5", "--out", "bob"]
    )
    assert against.exit_code == 0, against.output
    pairs = json.loads((tmp_path / "bob" / "report.json").read_text(encoding="utf-8"))["scores"]["pairs"]
    assert [(pair["reference"], pair["coder"]) for pair in pairs] == [("bob", "alice"), ("bob", MODEL)]
    unknown = ["eval", "simulate-review", "--dataset", "study", "--reference", "carol"]
    assert runner.invoke(app, unknown).exit_code == 1
    with closing(open_groundcode(settings)) as groundcode:  # the user's project was only read
        assert groundcode.suggestions.matching(project.id, SuggestionFilter()) == learnt


def test_a_refi_qda_project_is_read_and_scored_the_same_way(settings: Settings) -> None:
    """Codings imported from REFI-QDA are human codings (``Decision(kind=CODE)``) like the CSV's."""
    groundcode = open_groundcode(settings)
    try:
        qda = read_qda(write_project(persian_project()))
        import_project(groundcode, "fa", qda, ChunkOptions(), where="fa.qdpx")
        data = read_project(groundcode, "fa")
    finally:
        groundcode.close()

    coded = [(c.coder, c.code, TEXT[c.start : c.end]) for unit in data.units for c in unit.codings]
    assert sorted(coded) == [("Sara", "اعتماد", TRUST_QUOTE), ("رضا", "شفافیت", "شفافیت")]
    answers = [[ModelSuggestion(code="اعتماد", confidence=0.9, start=u.start, end=u.end)] for u in data.units]
    scores = score_project(data.units, answers, ["اعتماد", "شفافیت"], threshold=None, seed=0, resamples=20)
    pairs = {(pair.reference, pair.coder): pair for pair in scores.pairs}
    assert pairs[("Sara", "رضا")].units == 0  # they coded different turns: no ceiling to compare with
    assert pairs[("Sara", MODEL)].units == 1 and pairs[("Sara", MODEL)].scores.macro_f1.value == 1.0
    labels = {
        coder: [None if s is None else set_label(s) for s in human_ratings(data.units, coder).sets]
        for coder in ("Sara", "رضا")
    }
    model = ["اعتماد"] * len(data.units)
    assert scores.alpha_all.value == pytest.approx(krippendorff_alpha([labels["Sara"], labels["رضا"], model]))


CLAIMS = [
    ["id", "text"],
    ["C966", "CI MAKES INTEGRATION EASIER."],
    ["C980", "CI MAKES INTEGRATION EASIER"],
    ["C981", "CI MAKES INTEGRATION EASIER AND SAFER"],
]


@pytest.fixture
def claims(settings: Settings) -> Iterator[tuple[Groundcode, Project]]:
    """Project "claims": one CSV source, a response per row, the respondent id from the ``id`` column."""
    groundcode = open_groundcode(settings)
    project = groundcode.repository.ensure_project("claims")
    result = import_file(
        groundcode.repository,
        project.id,
        "claims.csv",
        csv_bytes(CLAIMS),
        ChunkOptions(unit=SegmentUnit.RESPONSE),
        ReadOptions(max_bytes=10**6, csv_id_column="id"),
    )
    assert result.source_id is not None
    groundcode.handlers()[Stage.CHUNK](result.source_id)
    yield groundcode, project
    groundcode.close()


def coded_texts(groundcode: Groundcode, project: Project) -> dict[str, str]:
    """Each stored coding's segment id -> the coded text (the source's text at its offsets)."""
    texts = {source.id: source.text for source in groundcode.repository.list_sources(project.id)}
    return {
        str(decision.segment_id): texts[str(decision.source_id)][decision.start : decision.end]
        for decision in groundcode.decisions.list(project.id)
    }


def test_a_text_equal_to_a_whole_unit_codes_that_unit_though_it_occurs_inside_others(
    claims: tuple[Groundcode, Project],
) -> None:
    groundcode, project = claims
    data = csv_bytes(
        [["text", "code", "coder"]]
        + [[text, "Integration", "alice"] for _, text in CLAIMS[1:]]
        + [["INTEGRATION EASIER", "Integration", "alice"]]  # inside three units, none of them whole
    )

    result = import_codings(groundcode, project, data, where="codings.csv")

    assert result.located == 3
    assert [(item.row, item.reason) for item in result.unlocated] == [
        (5, "the text is 3 times in the project's sources (a source column can say which)")
    ]
    assert sorted(coded_texts(groundcode, project).values()) == sorted(text for _, text in CLAIMS[1:])


def test_units_are_addressed_by_the_csv_id_column(claims: tuple[Groundcode, Project]) -> None:
    groundcode, project = claims
    data = csv_bytes(
        [
            ["claim_id", "text", "code", "coder"],
            ["C980", "", "Integration", "alice"],  # no text: the whole unit
            ["C981", "CI MAKES INTEGRATION EASIER", "Easier", "alice"],  # the text inside that unit
            ["C999", "", "Integration", "alice"],
            ["C966", "SAFER", "Integration", "alice"],  # not in that unit
        ]
    )

    result = import_codings(groundcode, project, data, where="codings.csv", id_column="claim_id")

    assert result.located == 2
    assert [item.row for item in result.unlocated] == [4, 5]
    assert "C999" in result.unlocated[0].reason
    segments = {
        segment.speaker: segment.id
        for source in groundcode.repository.list_sources(project.id)
        for segment in groundcode.repository.list_segments(source.id)
    }
    assert coded_texts(groundcode, project) == {
        segments["C980"]: "CI MAKES INTEGRATION EASIER",
        segments["C981"]: "CI MAKES INTEGRATION EASIER",
    }


def test_an_id_column_must_be_in_the_file_and_then_text_may_be_left_out() -> None:
    data = csv_bytes([["id", "code", "coder"], ["C980", "Integration", "alice"]])

    with pytest.raises(CodingsFileError, match="no text column"):
        parse_codings(data, default_coder=None, where="x")
    with pytest.raises(CodingsFileError, match="no unit column"):
        parse_codings(data, default_coder=None, where="x", id_column="unit")
    [row] = parse_codings(data, default_coder=None, where="x", id_column="ID")
    assert (row.unit, row.text, row.code) == ("C980", "", "Integration")
    with pytest.raises(CodingsFileError, match="row 2: no id or text"):
        parse_codings(
            csv_bytes([["id", "code", "coder"], ["", "Integration", "alice"]]),
            default_coder=None,
            where="x",
            id_column="id",
        )


def test_codings_import_takes_the_csv_id_column_on_the_command_line(
    claims: tuple[Groundcode, Project], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    codings = tmp_path / "codings.csv"
    codings.write_bytes(csv_bytes([["id", "code", "coder"], ["C966", "Integration", "alice"]]))

    result = CliRunner().invoke(
        app, ["codings", "import", str(codings), "-p", "claims", "--csv-id-column", "id"]
    )

    assert result.exit_code == 0, result.output
    assert "1 found" in result.output and "codings: 1 imported" in result.output
    groundcode, project = claims
    assert list(coded_texts(groundcode, project).values()) == ["CI MAKES INTEGRATION EASIER."]
