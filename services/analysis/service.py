"""The analysis service: loads what the pure functions of ``saturation``, ``axial`` and ``exports`` need.

Every method takes the ``Access`` it acts for, so blind coding applies as everywhere else: a coder who
may only see their own decisions gets curves, proposals and exports from those. The command line acts as
the local operator, an owner who sees every coder's decisions (``local_operator``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from groundcode import state
from groundcode.app import Groundcode
from groundcode.domain import (
    Access,
    Code,
    Codebook,
    Coding,
    Decision,
    Memo,
    MemoKind,
    Project,
    Role,
    Source,
    User,
    memo_id_of,
)
from groundcode.errors import NotFoundError
from groundcode.storage.accounts import AccountStore
from groundcode.storage.decisions import CODEBOOK_KEY, DecisionStore, VersionConflict
from groundcode.storage.memos import MemoStore
from groundcode.storage.repository import Repository
from groundcode.storage.suggestions import SuggestionFilter, SuggestionStore
from services.adjudication.models import CodingFilter
from services.adjudication.service import Adjudication
from services.analysis import axial, cooccurrence, exports, memos, saturation
from services.analysis.axial import AxialApplyRequest, AxialOptions, AxialProposal, GroupingError, Placement
from services.analysis.codebook_edit import CodebookEditError, CodeEdit, edited_codes
from services.analysis.memos import MemoError, MemoView, MemoWrite
from services.analysis.naming import JsonCompleter, name_groups
from services.analysis.saturation import Order, SaturationReport, SaturationRule, SuggestionSelection
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import code_text

LOCAL_OPERATOR = "local-operator"


def local_operator(project: Project) -> Access:
    """Who the command line acts as: no login, an owner of the project who sees every coder's decisions
    (what it writes, such as memos, is signed ``local-operator``)."""
    return Access(project=project, user=User(id=LOCAL_OPERATOR, username=LOCAL_OPERATOR), role=Role.OWNER)


@dataclass(frozen=True)
class Analysis:
    repository: Repository
    suggestions: SuggestionStore
    decisions: DecisionStore
    memos: MemoStore
    accounts: AccountStore
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

    def cooccurrence(self, who: Access, window: int) -> cooccurrence.CooccurrenceReport:
        """Which codes are applied together (same segment, or within ``window`` segments), over the codings
        this member may see; the codes that have codings, in codebook order."""
        placements = self._placements(state.codings(self.adjudication.visible_decisions(who)))
        used = {placement.code_id for placement in placements}
        listed = [(code.id, code.name) for code in self.adjudication.visible_codes(who)]
        known = {code_id for code_id, _name in listed}
        names = self.repository.code_index(who.project.id)
        others = sorted((names[c].name if c in names else c, c) for c in used - known)
        codes = [(code_id, name) for code_id, name in listed if code_id in used]
        codes += [(code_id, name) for name, code_id in others]
        return cooccurrence.cooccurrence(placements, codes, window)

    def codebook_markdown(self, who: Access) -> str:
        return exports.codebook_markdown(
            self.repository.latest_codebook(who.project.id), self.adjudication.code_counts(who)
        )

    def write_memo(self, who: Access, request: MemoWrite) -> MemoView:
        """Store the memo's next version (owners and coders); refused with a version conflict if another
        version was saved since ``request.version``."""
        who.require(Role.OWNER, Role.CODER)
        if request.memo_id is not None:
            current = self._visible_memo(who, request.memo_id)
            if current.kind is not request.kind:
                raise MemoError(f"memo {request.memo_id} is a {current.kind.value} memo")
        subject_id = self._memo_subject(who, request.kind, request.subject)
        stored = self.memos.append(memos.next_version(request, who.project.id, subject_id, who.user.id))
        return self._memo_views(who, [stored])[0]

    def delete_memo(self, who: Access, memo_id: str, version: int) -> None:
        """Delete a memo (owners and coders) by appending a deleted version: its history stays."""
        who.require(Role.OWNER, Role.CODER)
        current = self._visible_memo(who, memo_id)
        if current.deleted:
            raise MemoError(f"memo {memo_id} is already deleted")
        self.memos.append(memos.deletion(current, version, who.user.id))

    def memo_list(
        self, who: Access, kind: MemoKind | None = None, subject: str | None = None, text: str | None = None
    ) -> list[MemoView]:
        """The memos this member may see, as they stand, in section order; optionally only of one kind,
        about one subject (a source, code or coding, by name or id), or containing ``text``."""
        found = memos.matching(self.memos.current(who.project.id, kind), text)
        if subject is not None:
            if kind is None:
                raise MemoError("say which kind of memo the subject is for (source, code or coding)")
            subject_id = self._memo_subject(who, kind, subject)
            found = [memo for memo in found if memo.subject_id == subject_id]
        return memos.in_section_order(self._memo_views(who, found))

    def memo_history(self, who: Access, memo_id: str) -> list[MemoView]:
        """Every version of a memo this member may see, oldest first."""
        versions = [memo for memo in self.memos.history(memo_id) if memo.project_id == who.project.id]
        views = self._memo_views(who, versions)
        if not views or views[-1].memo != versions[-1]:  # the memo as it stands is not for this member
            raise _no_memo(who, memo_id)
        return views

    def current_memo(self, who: Access, kind: MemoKind, subject: str | None) -> Memo | None:
        """The newest version (a deleted one too) of the one memo the project, a source, a code or a
        coding has; None if it was never written."""
        subject_id = self._memo_subject(who, kind, subject)
        return self.memos.find(memo_id_of(who.project.id, kind, subject_id))

    def memos_markdown(self, who: Access) -> str:
        return memos.memos_markdown(who.project.name, self.memo_list(who))

    def _visible_memo(self, who: Access, memo_id: str) -> Memo:
        """The memo's newest version, if it is this project's and this member may see it."""
        memo = self.memos.find(memo_id)
        if memo is None or memo.project_id != who.project.id or not self._memo_views(who, [memo]):
            raise _no_memo(who, memo_id)
        return memo

    def _memo_subject(self, who: Access, kind: MemoKind, subject: str | None) -> str | None:
        """The id of what a memo of ``kind`` is about, from its name or id."""
        if kind in (MemoKind.PROJECT, MemoKind.JOURNAL):
            if subject is not None:
                raise MemoError(f"a {kind.value} memo is about the project, not about {subject!r}")
            return None
        if subject is None:
            raise MemoError(f"a {kind.value} memo names its {kind.value}")
        match kind:
            case MemoKind.SOURCE:
                return self.repository.find_source(who.project.id, subject).id
            case MemoKind.CODE:
                codes = self.adjudication.visible_codes(who)
                found = next((code for code in codes if subject in (code.id, code.name)), None)
                if found is None:
                    raise NotFoundError(f"no code {subject!r} in project {who.project.name!r}")
                return found.id
            case MemoKind.CODING:
                codings = state.codings(self.adjudication.visible_decisions(who))
                if subject not in {coding.decision_id for coding in codings}:
                    raise NotFoundError(f"no coding in force made by decision {subject!r}")
                return subject
            case _:
                assert_never(kind)

    def _memo_views(self, who: Access, found: list[Memo]) -> list[MemoView]:
        """The memos this member may see (``state.visible_memos``), with what each is about and who wrote
        it."""
        project = who.project
        decisions = {d.id: d for d in self.adjudication.visible_decisions(who)}
        hidden = self.adjudication.hidden_codes(who)
        codes = self.repository.code_index(project.id)
        sources = {source.id: source for source in self.repository.list_sources(project.id)}
        names = memos.authors(found, {user.id: user.username for user in self.accounts.list_users()})
        shown = state.visible_memos(
            found,
            who.user.id,
            who.role,
            blind=project.blind,
            revealed=project.revealed,
            decision_ids=decisions.keys(),
            hidden=hidden,
        )

        def about(memo: Memo) -> str:
            """What the memo is about, by name."""
            subject = memo.subject_id or ""
            match memo.kind:
                case MemoKind.PROJECT:
                    return f"project {project.name}"
                case MemoKind.JOURNAL:
                    return "journal"
                case MemoKind.SOURCE:
                    return sources[subject].name if subject in sources else f"source {subject} (removed)"
                case MemoKind.CODE:
                    return codes[subject].name if subject in codes else subject
                case MemoKind.CODING:
                    return _coding_label(decisions[subject], codes, sources)
                case _:
                    assert_never(memo.kind)

        return [MemoView(memo=memo, about=about(memo), author=names[memo.author_id]) for memo in shown]

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
        memos=groundcode.memos,
        accounts=groundcode.accounts,
        adjudication=groundcode.adjudication,
        embedder=lambda: groundcode.embedder,
        namer=lambda: groundcode.llm_backend if groundcode.settings.suggestion_backend == "llm" else None,
    )


def _coding_label(decision: Decision, codes: dict[str, Code], sources: dict[str, Source]) -> str:
    """A coding as a reader recognises it: code, source, span and the first words of the quote."""
    code = codes[decision.code_id].name if decision.code_id in codes else decision.code_id
    source = sources.get(decision.source_id or "")
    if source is None or decision.start is None or decision.end is None:
        return f"{code} (coding {decision.id})"
    quote = source.text[decision.start : decision.end]
    short = quote if len(quote) <= 60 else quote[:57] + "..."
    return f"{code} on {source.name}, characters {decision.start}-{decision.end}: \u201c{short}\u201d"


def _no_memo(who: Access, memo_id: str) -> NotFoundError:
    return NotFoundError(f"no memo with id {memo_id!r} in project {who.project.name!r}")
