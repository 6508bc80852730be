"""REFI-QDA has no place for "no code applies": the export leaves it out and says so, like skips."""

from __future__ import annotations

from groundcode.domain import Code, Codebook, Decision, DecisionKind, Project, Source, User
from groundcode.interchange.mapping import project_to_qda


def test_no_code_marks_are_not_exported_and_are_listed_as_lost() -> None:
    project = Project(name="study")
    source = Source(project_id=project.id, name="one.txt", format="txt", text="P1: Fine.", content_hash="h")
    codebook = Codebook(project_id=project.id, name="book", codes=[Code(id="c1", name="Trust")])
    ana = User(username="ana")
    marked = Decision(
        project_id=project.id,
        coder_id=ana.id,
        kind=DecisionKind.NO_CODE,
        segment_id="s1",
        source_id=source.id,
    )
    exported = project_to_qda(project, [source], codebook, {"c1": codebook.codes[0]}, [ana], [marked])
    assert exported.project.sources[0].selections == []
    assert exported.losses == [
        '0 rejection(s) and skip(s), 1 "no code applies" mark(s): REFI-QDA has no place for them'
    ]
