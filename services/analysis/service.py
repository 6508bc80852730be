"""The analysis service: loads what the pure functions of ``saturation``, ``axial`` and ``exports`` need.

Every method takes the ``Access`` it acts for, so blind coding applies as everywhere else: a coder who
may only see their own decisions gets curves, proposals and exports from those. The command line acts as
the local operator, an owner who sees every coder's decisions (``local_operator``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from groundcode import state
from groundcode.app import Groundcode
from groundcode.domain import Access, Codebook, Coding, Project, Role, User
from groundcode.storage.decisions import CODEBOOK_KEY, DecisionStore, VersionConflict
from groundcode.storage.repository import Repository
from groundcode.storage.suggestions import SuggestionFilter, SuggestionStore
from services.adjudication.models import CodingFilter
from services.adjudication.service import Adjudication
from services.analysis import axial, exports, saturation
from services.analysis.axial import AxialApplyRequest, AxialOptions, AxialProposal, GroupingError, Placement
from services.analysis.codebook_edit import CodebookEditError, CodeEdit, edited_codes
from services.analysis.naming import JsonCompleter, name_groups
from services.analysis.saturation import Order, SaturationReport, SaturationRule, SuggestionSelection
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import code_text

LOCAL_OPERATOR = "local-operator"


def local_operator(project: Project) -> Access:
    """Who the command line acts as: no login, an owner of the project who sees every coder's decisions."""
    return Access(project=project, user=User(username=LOCAL_OPERATOR), role=Role.OWNER)


@dataclass(frozen=True)
class Analysis:
    repository: Repository
    suggestions: SuggestionStore
    decisions: DecisionStore
    adjudication: Adjudication
    embedder: Callable[[], Embedder]  # loading the model takes a moment: only axial proposals need it
    namer: Callable[[], JsonCompleter | None] = lambda: None  # the language model naming groups, if any

    def saturation(
        self, who: Access, order: Order, rule: SaturationRule, selection: SuggestionSelection
    ) -> SaturationReport:
        """Both saturation curves: from the codings in force and from the selected suggestions."""
        project = who.project
        sources = saturation.ordered_sources(self.repository.list_sources(project.id), order)
        decisions = self.adjudication.visible_decisions(who)
        names = {code_id: code.name for code_id, code in self.repository.code_index(project.id).items()}
        found = self.suggestions.matching(
            project.id, SuggestionFilter(min_confidence=selection.min_confidence)
        )
        accepted = saturation.accepted_codes(sources, state.codings(decisions), names)
        suggested = saturation.suggested_codes(
            sources, found, names, state.code_aliases(decisions), selection
        )
        return SaturationReport(
            project=project.name,
            order=order,
            rule=rule,
            rule_text=rule.describe(),
            selection=selection,
            accepted=saturation.curve("accepted", accepted, rule),
            suggested=saturation.curve("suggested", suggested, rule),
        )

    def axial_proposal(self, who: Access, options: AxialOptions) -> AxialProposal:
        """A grouping of the codebook's codes that have codings in force (the accepted open codes)."""
        codebook = self.repository.latest_codebook(who.project.id)
        codings = state.codings(self.adjudication.visible_decisions(who))
        coded = {coding.code_id for coding in codings}
        codes = [code for code in codebook.codes if code.id in coded] if codebook else []
        vectors = self.embedder().embed_queries([code_text(code) for code in codes]) if codes else []
        proposal = axial.propose(
            codes,
            vectors,
            self._placements(codings),
            options,
            codebook_id=codebook.id if codebook else None,
            codebook_version=codebook.version if codebook else None,
        )
        namer = self.namer()
        return asyncio.run(name_groups(namer, proposal, codes)) if namer is not None else proposal

    def apply_axial(self, who: Access, request: AxialApplyRequest) -> tuple[Codebook, bool]:
        """A new codebook version with the groups' codes nested under each group's code. Refused with a
        version conflict if the codebook changed since the proposal. Returns ``(codebook, changed)``."""
        who.require(Role.OWNER, Role.CODER)
        codebook = self.repository.latest_codebook(who.project.id)
        if codebook is None:
            raise GroupingError("the project has no codebook yet")
        if codebook.version != request.codebook_version:
            raise VersionConflict(CODEBOOK_KEY, request.codebook_version, codebook.version)
        codes = axial.apply_grouping(who.project.id, codebook.codes, request.groups)
        return self.repository.save_codebook(who.project.id, codebook.name, codes)

    def edit_code(self, who: Access, edit: CodeEdit) -> tuple[Codebook, bool]:
        """A new codebook version with one code renamed, re-defined, recoloured, moved or retired (owners
        only). Refused with a version conflict if the codebook changed since ``edit.codebook_version``.
        Returns ``(codebook, changed)``."""
        who.require(Role.OWNER)
        codebook = self.repository.latest_codebook(who.project.id)
        if codebook is None:
            raise CodebookEditError("the project has no codebook yet")
        if codebook.version != edit.codebook_version:
            raise VersionConflict(CODEBOOK_KEY, edit.codebook_version, codebook.version)
        return self.repository.save_codebook(
            who.project.id, codebook.name, edited_codes(codebook.codes, edit)
        )

    def codings_table(self, who: Access, where: CodingFilter | None = None) -> exports.Table:
        return exports.codings_table(self.adjudication.coding_rows(who, where))

    def matrix_table(self, who: Access, where: CodingFilter | None = None) -> exports.Table:
        sources = saturation.ordered_sources(self.repository.list_sources(who.project.id), "name")
        return exports.matrix_table(
            self.adjudication.coding_rows(who, where),
            [source.name for source in sources],
            self.adjudication.code_counts(who),
        )

    def codebook_markdown(self, who: Access) -> str:
        return exports.codebook_markdown(
            self.repository.latest_codebook(who.project.id), self.adjudication.code_counts(who)
        )

    def _placements(self, codings: list[Coding]) -> list[Placement]:
        segments = self.repository.get_segments(sorted({coding.segment_id for coding in codings}))
        return [
            Placement(code_id=c.code_id, source_id=c.source_id, position=segments[c.segment_id].position)
            for c in codings
            if c.segment_id in segments
        ]


def analysis_of(groundcode: Groundcode) -> Analysis:
    """The analysis service over the composition root's stores."""
    return Analysis(
        repository=groundcode.repository,
        suggestions=groundcode.suggestions,
        decisions=groundcode.decisions,
        adjudication=groundcode.adjudication,
        embedder=lambda: groundcode.embedder,
        namer=lambda: groundcode.llm_backend if groundcode.settings.suggestion_backend == "llm" else None,
    )
