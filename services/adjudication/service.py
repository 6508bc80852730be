"""The adjudication service: review views, decisions, undo, bulk acceptance, merges and progress.

Every method takes the ``Access`` (project, user and role) the request was authenticated as; blind
coding is applied here, so no route can show a coder another coder's decisions before they are revealed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import assert_never

from groundcode import state
from groundcode.domain import (
    Access,
    Code,
    Codebook,
    Coding,
    Decision,
    DecisionKind,
    Role,
    Segment,
    Source,
    Stage,
    Suggestion,
    derived_id,
    new_id,
    utcnow,
)
from groundcode.errors import NotFoundError
from groundcode.storage.accounts import AccountStore
from groundcode.storage.decisions import DecisionStore, VersionConflict, review_key
from groundcode.storage.repository import Repository
from groundcode.storage.suggestions import SuggestionFilter, SuggestionStore
from groundcode.textsafety import control_character_problem, same_name_key
from services.adjudication.models import (
    RTL_LANGUAGES,
    AcceptRequest,
    BulkAcceptRequest,
    BulkItem,
    BulkPreview,
    BulkRequest,
    CandidateView,
    CodeCount,
    CodeRequest,
    CodingFilter,
    CodingRow,
    CodingView,
    ContextSegment,
    CreateCodeRequest,
    DecideRequest,
    DecisionResult,
    EditRequest,
    MergeRequest,
    NoCodeRequest,
    RejectRequest,
    RemoveRequest,
    ReviewFilter,
    SegmentView,
    SkipRequest,
    SourceProgress,
    UndoResult,
)
from services.adjudication.ordering import uncertain_first

CONTEXT_SEGMENTS = 2
OPEN_CODES_CODEBOOK = "open codes"


class AdjudicationError(ValueError):
    """A decision that cannot be made as asked (the message says why)."""


@dataclass(frozen=True)
class Outcome:
    """What a decision changed: the decisions appended, the segment review's new version, and whether the
    codebook changed (it is then indexed again)."""

    result: DecisionResult
    codebook_changed: Codebook | None = None


class Adjudication:
    def __init__(
        self,
        repository: Repository,
        suggestions: SuggestionStore,
        decisions: DecisionStore,
        accounts: AccountStore,
    ) -> None:
        self._repository = repository
        self._suggestions = suggestions
        self._decisions = decisions
        self._accounts = accounts

    # Reading

    def segment_view(
        self, who: Access, where: ReviewFilter, segment_id: str | None = None
    ) -> SegmentView | None:
        """The segment to review (the next in the queue when none is named), or ``None`` when the queue is
        empty."""
        ordered, queue = self._queue(who, where)
        if segment_id is None:
            if not queue:
                return None
            segment_id = queue[0]
        segment = self._repository.get_segment(segment_id)
        source = self._source_of(who, segment)
        # The version first: a decision landing meanwhile makes this view stale, never newer than it says.
        version = self._decisions.versions(who.user.id, [segment.id])[segment.id]
        decisions = self.visible_decisions(who, [segment.id])
        mine = [d for d in state.effective(decisions) if d.coder_id == who.user.id]
        index = self._repository.code_index(who.project.id)
        hidden = state.hidden_codes(index.values(), who.user.id, who.role)
        codes = {key: code for key, code in index.items() if key not in hidden}
        return SegmentView(
            project=who.project.name,
            segment_id=segment.id,
            source_id=source.id,
            source_name=source.name,
            language=source.language,
            direction="rtl" if (source.language or "").split("-")[0] in RTL_LANGUAGES else "ltr",
            position=segment.position,
            unit=segment.unit,
            start=segment.start,
            end=segment.end,
            speaker=segment.speaker,
            text=segment.text,
            before=self._context(segment, -CONTEXT_SEGMENTS),
            after=self._context(segment, CONTEXT_SEGMENTS),
            candidates=self._candidates(who, segment, codes, mine, state.code_aliases(decisions)),
            codings=self._coding_views(source, decisions, codes),
            version=version,
            reviewed=segment.id in state.reviewed_segments(decisions, who.user.id),
            skipped=segment.id in state.skipped_segments(decisions, who.user.id),
            no_code=segment.id in state.no_code_segments(decisions).get(who.user.id, set()),
            queue_index=queue.index(segment.id) + 1 if segment.id in queue else None,
            queue_length=len(queue),
            previous_segment_id=_neighbour(ordered, ordered, segment.id, -1),
            next_segment_id=_neighbour(ordered, queue, segment.id, +1),
        )

    def progress(self, who: Access) -> list[SourceProgress]:
        """Per source: segments with suggestions, and how many of them this member reviewed or skipped."""
        matches = self._suggestions.matching(who.project.id, SuggestionFilter(), coder_id=self._scope(who))
        reviewed, skipped = self._marked(who)
        by_source: dict[str, set[str]] = {}
        for suggestion, source_id in matches:
            by_source.setdefault(source_id, set()).add(suggestion.segment_id)
        names = {source.id: source.name for source in self._repository.list_sources(who.project.id)}
        return [
            SourceProgress(
                source_id=source_id,
                source_name=names.get(source_id, source_id),
                segments=len(segments),
                reviewed=len(segments & reviewed),
                skipped=len(segments & skipped),
                remaining=len(segments - reviewed),
            )
            for source_id, segments in by_source.items()
        ]

    def code_counts(self, who: Access) -> list[CodeCount]:
        """The codebook, with the accepted codings per code visible to this member and the suggestions."""
        codings = state.codings(self.visible_decisions(who))
        accepted = Counter(coding.code_id for coding in codings)
        suggested = Counter(
            {
                c.code_id: c.count
                for c in self._suggestions.summary(who.project.id, coder_id=self._scope(who))
                if c.code_id is not None
            }
        )
        return [
            CodeCount(
                code_id=code.id,
                name=code.name,
                definition=code.definition,
                parent_id=code.parent_id,
                color=code.color,
                display_color=code.display_color,
                codings=accepted[code.id],
                suggestions=suggested[code.id],
                approved=code.approved,
            )
            for code in self.visible_codes(who)
        ]

    def coding_rows(self, who: Access, where: CodingFilter | None = None) -> list[CodingRow]:
        """The codings visible to this member (those ``where`` asks for), in source order, for listing and
        export. A code, coder or source the filter names that does not exist is an error, not no rows."""
        decisions = self.visible_decisions(who)
        snapshots = {d.id: d.suggestion for d in decisions}
        codes = self._repository.code_index(who.project.id)
        users = {user.id: user.username for user in self._accounts.list_users()}
        sources = {source.id: source for source in self._repository.list_sources(who.project.id)}
        found = sorted(
            state.codings(decisions), key=lambda c: (sources[c.source_id].name, c.start, c.code_id)
        )
        if where is not None:
            members = {m.user.id: m.user.username for m in self._accounts.members(who.project.id)}
            found = _matching_codings(found, where, codes, members, sources)
        segments = self._repository.get_segments(sorted({c.segment_id for c in found}))
        return [
            CodingRow(
                source=sources[c.source_id].name,
                speaker=segments[c.segment_id].speaker if c.segment_id in segments else None,
                start=c.start,
                end=c.end,
                text=sources[c.source_id].text[c.start : c.end],
                code=codes[c.code_id].name if c.code_id in codes else c.code_id,
                code_id=c.code_id,
                coder=users.get(c.coder_id, c.coder_id),
                decided_at=c.decided_at,
                suggestion_id=c.suggestion_id,
                backend=_snapshot_text(snapshots.get(c.decision_id), "backend"),
                model=_snapshot_text(snapshots.get(c.decision_id), "model"),
                decision_id=c.decision_id,
            )
            for c in found
        ]

    def bulk_preview(self, who: Access, request: BulkRequest) -> BulkPreview:
        """The suggestions of one code at or above the confidence, on segments this coder has not reviewed:
        exactly what ``bulk_accept`` would accept."""
        code = self._code(who, request.code_id)
        pending = self._bulk_candidates(who, request)
        segments = self._repository.get_segments(sorted({s.segment_id for s, _ in pending}))
        names = {source.id: source.name for source in self._repository.list_sources(who.project.id)}
        return BulkPreview(
            code_id=code.id,
            code_name=code.name,
            min_confidence=request.min_confidence,
            items=[
                BulkItem(
                    suggestion_id=s.id,
                    segment_id=s.segment_id,
                    source_name=names.get(source_id, source_id),
                    confidence=s.confidence,
                    text=segments[s.segment_id].text,
                )
                for s, source_id in pending
            ],
        )

    # Deciding

    def decide(self, who: Access, request: DecideRequest) -> Outcome:
        """Record one decision on one segment, if the review is still at the version the researcher saw."""
        who.require(Role.OWNER, Role.CODER)
        codebook = None
        match request:
            case AcceptRequest():
                decisions = self._accept(who, request)
            case RejectRequest():
                suggestion, source_id = self._suggestion(who, request.suggestion_id)
                decisions = [
                    self._on_suggestion(
                        who,
                        suggestion,
                        source_id,
                        DecisionKind.REJECT,
                        reason=request.reason,
                        note=request.note,
                    )
                ]
            case EditRequest():
                suggestion, source_id = self._suggestion(who, request.suggestion_id)
                code = self._code(who, request.code_id)
                self._check_span(who, source_id, request.start, request.end)
                decisions = [
                    self._on_suggestion(
                        who,
                        suggestion,
                        source_id,
                        DecisionKind.EDIT,
                        code_id=code.id,
                        start=request.start,
                        end=request.end,
                    )
                ]
            case CreateCodeRequest():
                decisions, codebook = self._create_code(who, request)
            case CodeRequest():
                code = self._code(who, request.code_id)
                decision = self._on_segment(
                    who,
                    request.segment_id,
                    DecisionKind.CODE,
                    code_id=code.id,
                    start=request.start,
                    end=request.end,
                )
                self._check_span(who, decision.source_id or "", request.start, request.end)
                decisions = [decision]
            case SkipRequest():
                decisions = [self._on_segment(who, request.segment_id, DecisionKind.SKIP)]
            case NoCodeRequest():
                decisions = [self._no_code(who, request.segment_id)]
            case RemoveRequest():
                decisions = [self._removal(who, request.decision_id)]
            case unknown:
                assert_never(unknown)
        versions = self._decisions.append(decisions, expected_version=request.version, follow_up=Stage.LEARN)
        return Outcome(DecisionResult(decisions=decisions, version=max(versions.values())), codebook)

    def bulk_accept(self, who: Access, request: BulkAcceptRequest) -> Outcome:
        """Accept the previewed suggestions that still qualify (a suggestion whose segment was reviewed in
        the meantime, or whose confidence changed, is left alone)."""
        who.require(Role.OWNER, Role.CODER)
        self._code(who, request.code_id)
        wanted = set(request.suggestion_ids)
        decisions = [
            self._on_suggestion(who, suggestion, source_id, DecisionKind.ACCEPT, **self._span_of(suggestion))
            for suggestion, source_id in self._bulk_candidates(who, request)
            if suggestion.id in wanted
        ]
        if not decisions:
            raise AdjudicationError("none of the previewed suggestions is still waiting for review")
        self._decisions.append(decisions, follow_up=Stage.LEARN)
        return Outcome(DecisionResult(decisions=decisions, version=0))

    def merge(self, who: Access, request: MergeRequest) -> Outcome:
        """Fold one code into another: the codebook loses the merged code (its sub-codes move under the kept
        one) and every coding of it counts as the kept code. Undo restores it."""
        who.require(Role.OWNER, Role.CODER)
        if request.code_id == request.merged_code_id:
            raise AdjudicationError("a code cannot be merged into itself")
        codebook = self._codebook(who)
        kept, merged = self._code(who, request.code_id), self._code(who, request.merged_code_id)
        if kept.id in state.codes_under(codebook.codes, {merged.id}):
            raise AdjudicationError(
                f"{kept.name!r} is nested under {merged.name!r}: merge it the other way round"
            )
        codes = state.without_code(codebook.codes, merged.id, children_to=kept.id)
        changed, _ = self._repository.save_codebook(who.project.id, codebook.name, codes)
        decision = Decision(
            project_id=who.project.id,
            coder_id=who.user.id,
            kind=DecisionKind.MERGE,
            code_id=kept.id,
            merged_code_id=merged.id,
            codebook_id=codebook.id,
            codebook_version=codebook.version,
        )
        versions = self._decisions.append([decision], follow_up=Stage.LEARN)
        return Outcome(DecisionResult(decisions=[decision], version=max(versions.values())), changed)

    def undo(self, who: Access) -> tuple[UndoResult, Codebook | None]:
        """Cancel this coder's most recent decision that is still in force (exactly: the state becomes what
        it was before it); a code it created or a merge it made is taken back out of the codebook."""
        who.require(Role.OWNER, Role.CODER)
        target = self._decisions.last_undoable(who.project.id, who.user.id)
        if target is None:
            return UndoResult(undone=None, undo=None, version=None), None
        undo = Decision(
            project_id=who.project.id,
            coder_id=who.user.id,
            kind=DecisionKind.UNDO,
            undoes=target.id,
            segment_id=target.segment_id,
            source_id=target.source_id,
        )
        key = review_key(target)
        seen = self._decisions.versions(who.user.id, [key])[key]
        versions = self._decisions.append([undo], expected_version=seen, follow_up=Stage.LEARN)
        codebook = self._take_back(who, target)
        return UndoResult(undone=target, undo=undo, version=max(versions.values())), codebook

    # Membership

    def set_visibility(
        self, who: Access, *, blind: bool | None = None, revealed: bool | None = None
    ) -> Codebook | None:
        """Switch blind coding, or reveal; once coders see each other's work, every coder's new code is
        approved. Returns the codebook if that changed it."""
        who.require(Role.OWNER)
        self._accounts.set_visibility(who.project.id, blind=blind, revealed=revealed)
        if not state.can_see_others(
            Role.CODER,
            blind=who.project.blind if blind is None else blind,
            revealed=who.project.revealed if revealed is None else revealed,
        ):
            return None
        return self._approve(who, lambda code: True)

    def approve_code(self, who: Access, code_id: str) -> Codebook | None:
        """An owner approves a coder's new code: the other coders see it, and it is suggested from now on.
        Returns the codebook if that changed it."""
        who.require(Role.OWNER)
        self._code(who, code_id)
        return self._approve(who, lambda code: code.id == code_id)

    def _approve(self, who: Access, which: Callable[[Code], bool]) -> Codebook | None:
        codebook = self._repository.latest_codebook(who.project.id)
        if codebook is None:
            return None
        codes = [
            code.model_copy(update={"approved": True}) if which(code) else code for code in codebook.codes
        ]
        saved, changed = self._repository.save_codebook(who.project.id, codebook.name, codes)
        return saved if changed else None

    # Helpers

    def _marked(self, who: Access) -> tuple[set[str], set[str]]:
        """``(reviewed, skipped)``: this member's segments, from the review marks kept with the decisions."""
        marks = self._decisions.review_marks(who.project.id, who.user.id)
        reviewed = {segment_id for segment_id, mark in marks.items() if mark == "reviewed"}
        return reviewed, set(marks) - reviewed

    def _queue(self, who: Access, where: ReviewFilter) -> tuple[list[str], list[str]]:
        """``(every matching segment, the segments of the asked status)``, both in the asked order; skipped
        segments come last in the to-do queue."""
        scope = self._scope(who)
        ordered = self._suggestions.matching_segment_ids(who.project.id, where, coder_id=scope)
        match where.order:
            case "source":
                pass
            case "uncertain":
                confidences: dict[str, list[float]] = {}
                for suggestion, _ in self._suggestions.matching(who.project.id, where, coder_id=scope):
                    confidences.setdefault(suggestion.segment_id, []).append(suggestion.confidence)
                ordered = uncertain_first(ordered, confidences)
            case unknown:
                assert_never(unknown)
        reviewed, skipped = self._marked(who)
        match where.status:
            case "todo":
                queue = [s for s in ordered if s not in reviewed and s not in skipped]
                queue += [s for s in ordered if s in skipped]
            case "reviewed":
                queue = [s for s in ordered if s in reviewed]
            case "skipped":
                queue = [s for s in ordered if s in skipped]
            case "all":
                queue = ordered
            case other:
                assert_never(other)
        return ordered, queue

    def visible_decisions(self, who: Access, segment_ids: Sequence[str] | None = None) -> list[Decision]:
        """The project's decisions (optionally on some segments) this member may see: blind coding's rule."""
        decisions = self._decisions.list(who.project.id, segment_ids=segment_ids)
        return state.visible(
            decisions, who.user.id, who.role, blind=who.project.blind, revealed=who.project.revealed
        )

    def hidden_codes(self, who: Access) -> set[str]:
        """Ids of the codes this member may not see yet: other coders' new codes, not approved."""
        return state.hidden_codes(self._repository.code_index(who.project.id).values(), who.user.id, who.role)

    def visible_codes(self, who: Access) -> list[Code]:
        """The latest codebook's codes this member may see."""
        codebook = self._repository.latest_codebook(who.project.id)
        codes = codebook.codes if codebook else []
        hidden = state.hidden_codes(codes, who.user.id, who.role)
        return [code for code in codes if code.id not in hidden]

    def _context(self, segment: Segment, offset: int) -> list[ContextSegment]:
        first = max(0, segment.position + offset) if offset < 0 else segment.position + 1
        count = segment.position - first if offset < 0 else offset
        return [
            ContextSegment(id=s.id, position=s.position, speaker=s.speaker, text=s.text)
            for s in self._repository.list_segments(segment.source_id, offset=first, limit=count)
        ]

    def _candidates(
        self,
        who: Access,
        segment: Segment,
        codes: dict[str, Code],
        mine: Sequence[Decision],
        aliases: dict[str, str],
    ) -> list[CandidateView]:
        my_verdicts = {d.suggestion_id: d for d in mine if d.suggestion_id is not None}
        suggestions = sorted(
            (
                s
                for s in self._suggestions.list_for_segment(segment.id, coder_id=self._scope(who))
                if s.code_id is None or s.code_id in codes
            ),
            key=lambda s: (s.mode != "deductive", -s.confidence),
        )
        views = []
        for rank, suggestion in enumerate(suggestions, start=1):
            code = codes.get(suggestion.code_id or "")
            verdict = my_verdicts.get(suggestion.id)
            views.append(
                CandidateView(
                    suggestion_id=suggestion.id,
                    mode=suggestion.mode,
                    rank=rank,
                    code_id=suggestion.code_id,
                    code_name=code.name if code else (suggestion.proposed_label or "?"),
                    definition=code.definition if code else "",
                    inclusion=code.inclusion if code else "",
                    exclusion=code.exclusion if code else "",
                    color=code.color if code else None,
                    merged_into=aliases.get(suggestion.code_id or ""),
                    confidence=suggestion.confidence,
                    rationale=suggestion.rationale,
                    quote_start=suggestion.quote_start,
                    quote_end=suggestion.quote_end,
                    quote_match=suggestion.quote_match,
                    backend=suggestion.backend,
                    model=suggestion.model,
                    prompt_version=suggestion.prompt_version,
                    weaker_than_llm=bool(suggestion.provenance.get("weaker_than_llm")),
                    applies=bool(suggestion.provenance.get("applies", suggestion.rank == 1)),
                    my_decision=verdict.kind if verdict else None,
                    my_reason=verdict.reason if verdict else None,
                )
            )
        return views

    def _coding_views(
        self, source: Source, decisions: Sequence[Decision], codes: dict[str, Code]
    ) -> list[CodingView]:
        users = {user.id: user.username for user in self._accounts.list_users()}
        return [
            CodingView(
                coder=users.get(c.coder_id, c.coder_id),
                code_id=c.code_id,
                code_name=codes[c.code_id].name if c.code_id in codes else c.code_id,
                start=c.start,
                end=c.end,
                text=source.text[c.start : c.end],
                decision_id=c.decision_id,
                suggestion_id=c.suggestion_id,
                decided_at=c.decided_at,
            )
            for c in state.codings(decisions)
        ]

    def _accept(self, who: Access, request: AcceptRequest) -> list[Decision]:
        adjusted = request.start is not None or request.end is not None
        if adjusted and (len(request.suggestion_ids) != 1 or request.start is None or request.end is None):
            raise AdjudicationError("an adjusted span (start and end) goes with exactly one suggestion")
        found = [
            self._suggestion(who, suggestion_id) for suggestion_id in dict.fromkeys(request.suggestion_ids)
        ]
        if len({suggestion.segment_id for suggestion, _ in found}) != 1:
            raise AdjudicationError("accept several suggestions of one segment at a time")
        decisions = []
        for suggestion, source_id in found:
            if suggestion.code_id is None:
                raise AdjudicationError(
                    f"{suggestion.proposed_label!r} is a proposed new code: create it as a code (create_code)"
                )
            span = self._span_of(suggestion)
            if request.start is not None and request.end is not None:
                self._check_span(who, source_id, request.start, request.end)
                span = {"start": request.start, "end": request.end}
            decisions.append(self._on_suggestion(who, suggestion, source_id, DecisionKind.ACCEPT, **span))
        return decisions

    def _create_code(self, who: Access, request: CreateCodeRequest) -> tuple[list[Decision], Codebook]:
        suggestion, source_id = self._suggestion(who, request.suggestion_id)
        # Refuse a stale request before the codebook changes, not after (the decision's own check is later).
        current = self._decisions.versions(who.user.id, [suggestion.segment_id])[suggestion.segment_id]
        if current != request.version:
            raise VersionConflict(suggestion.segment_id, request.version, current)
        if suggestion.proposed_label is None:
            raise AdjudicationError(
                "only a proposed new code (inductive suggestion) can be created as a code"
            )
        codebook = self._repository.latest_codebook(who.project.id)
        codes = list(codebook.codes) if codebook else []
        name = request.name.strip()
        problem = control_character_problem(name)
        if problem is not None:
            raise AdjudicationError(f"the code name {problem.replace('line 1 holds', 'holds')}")
        key = same_name_key(name)
        hidden = state.hidden_codes(codes, who.user.id, who.role)
        visible = [c for c in codes if c.id not in hidden]
        # Names that look alike on screen (zero-width or bidirectional characters) are the same name.
        clash = next((c for c in visible if same_name_key(c.name) == key), None)
        if clash is not None:
            raise AdjudicationError(f"the codebook already has a code {clash.name!r}: choose it with edit")
        if request.parent_id is not None and all(c.id != request.parent_id for c in visible):
            raise AdjudicationError(f"no code with id {request.parent_id!r} to nest the new code under")
        # Another coder's unapproved code of that name is not revealed: this one stays apart (owners merge).
        apart = [who.user.id] if any(same_name_key(c.name) == key for c in codes) else []
        code = Code(
            id=derived_id("code", who.project.id, key, *apart),
            name=name,
            definition=request.definition.strip(),
            examples=[suggestion.proposed_label] if suggestion.proposed_label != name else [],
            parent_id=request.parent_id,
            created_by=who.user.id,
            # While coding is blind, the other coders see a coder's new code once an owner approves it.
            approved=state.can_see_others(who.role, blind=who.project.blind, revealed=who.project.revealed),
        )
        saved, _ = self._repository.save_codebook(
            who.project.id, codebook.name if codebook else OPEN_CODES_CODEBOOK, [*codes, code]
        )
        decision = self._on_suggestion(
            who,
            suggestion,
            source_id,
            DecisionKind.CREATE_CODE,
            code_id=code.id,
            **self._span_of(suggestion),
            codebook_id=saved.id,
            codebook_version=saved.version,
        )
        return [decision], saved

    def _take_back(self, who: Access, undone: Decision) -> Codebook | None:
        """Undo's codebook side: remove a code the undone decision created (unless coded since), or put a
        merged code back."""
        codebook = self._repository.latest_codebook(who.project.id)
        if codebook is None:
            return None
        if undone.kind == DecisionKind.CREATE_CODE:
            still_used = any(
                c.code_id == undone.code_id for c in state.codings(self._decisions.list(who.project.id))
            )
            if still_used:
                return None
            codes = [code for code in codebook.codes if code.id != undone.code_id]
        elif undone.kind == DecisionKind.MERGE and undone.codebook_id is not None:
            before = self._repository.get_codebook(undone.codebook_id)
            restored = [code for code in before.codes if code.id == undone.merged_code_id]
            present = {code.id for code in codebook.codes}
            codes = [*codebook.codes, *(code for code in restored if code.id not in present)]
        else:
            return None
        saved, changed = self._repository.save_codebook(who.project.id, codebook.name, codes)
        return saved if changed else None

    def _no_code(self, who: Access, segment_id: str) -> Decision:
        """Mark that no code applies: a real answer, so only on a segment the coder has not coded."""
        mine = self._decisions.list(who.project.id, coder_ids=[who.user.id], segment_ids=[segment_id])
        if any(coding.segment_id == segment_id for coding in state.codings(mine)):
            raise AdjudicationError(
                "you have codings on this segment: reject or undo them before marking that no code applies"
            )
        return self._on_segment(who, segment_id, DecisionKind.NO_CODE)

    def _removal(self, who: Access, decision_id: str) -> Decision:
        """The decision that takes off one of this coder's codings in force: it has the coding's target
        (suggestion, or segment, code and span), so it replaces the coding in the fold."""
        missing = AdjudicationError(f"you have no coding in force made by decision {decision_id!r}")
        try:
            made = self._decisions.get(decision_id)
        except NotFoundError as error:
            raise missing from error
        if made.project_id != who.project.id or made.coder_id != who.user.id or made.segment_id is None:
            raise missing
        mine = self._decisions.list(who.project.id, coder_ids=[who.user.id], segment_ids=[made.segment_id])
        if decision_id not in {coding.decision_id for coding in state.codings(mine)}:
            raise missing
        return made.model_copy(
            update={
                "id": new_id(),
                "kind": DecisionKind.REMOVE,
                "reason": None,
                "note": "",
                "undoes": None,
                "suggestion": None,
                "decided_at": utcnow(),
            }
        )

    def _on_segment(self, who: Access, segment_id: str, kind: DecisionKind, **values: object) -> Decision:
        """A decision on a segment of the project without a suggestion (coding by hand, skipping, no code)."""
        segment, source = self._segment(who, segment_id)
        return Decision.model_validate(
            {
                "project_id": who.project.id,
                "coder_id": who.user.id,
                "kind": kind,
                "segment_id": segment.id,
                "source_id": source.id,
                **values,
            }
        )

    def _on_suggestion(
        self,
        who: Access,
        suggestion: Suggestion,
        source_id: str,
        kind: DecisionKind,
        **values: object,
    ) -> Decision:
        """A decision on a suggestion, carrying a snapshot of it (the suggestion itself may be replaced by a
        later suggestion run; the decision keeps what was decided on)."""
        return Decision.model_validate(
            {
                "project_id": who.project.id,
                "coder_id": who.user.id,
                "kind": kind,
                "segment_id": suggestion.segment_id,
                "source_id": source_id,
                "suggestion_id": suggestion.id,
                "code_id": suggestion.code_id,
                "suggestion": suggestion.model_dump(mode="json"),
                "codebook_id": suggestion.codebook_id,
                "codebook_version": suggestion.codebook_version,
                **values,
            }
        )

    def _span_of(self, suggestion: Suggestion) -> dict[str, int]:
        """What accepting a suggestion codes: its located quote, else its whole segment."""
        if suggestion.quote_start is not None and suggestion.quote_end is not None:
            return {"start": suggestion.quote_start, "end": suggestion.quote_end}
        segment = self._repository.get_segment(suggestion.segment_id)
        return {"start": segment.start, "end": segment.end}

    def _suggestion(self, who: Access, suggestion_id: str) -> tuple[Suggestion, str]:
        suggestion = self._suggestions.get(suggestion_id)
        unknown = NotFoundError(f"no suggestion with id {suggestion_id!r}")
        if suggestion is None or suggestion.coder_id not in (None, who.user.id):
            raise unknown  # another blind coder's own suggestion is not confirmed to exist either
        try:
            _, source = self._segment(who, suggestion.segment_id)
        except NotFoundError as error:
            raise unknown from error  # another project's: its segment is not named either
        return suggestion, source.id

    def _scope(self, who: Access) -> str | None:
        """Whose suggestions this member reviews: their own where some were learnt from their decisions
        alone (blind coding), else the shared ones."""
        return self._suggestions.scope_for(who.project.id, who.user.id)

    def _segment(self, who: Access, segment_id: str) -> tuple[Segment, Source]:
        segment = self._repository.get_segment(segment_id)
        return segment, self._source_of(who, segment)

    def _source_of(self, who: Access, segment: Segment) -> Source:
        source = self._repository.get_source(segment.source_id)
        if source.project_id != who.project.id:
            # The same answer as for an unknown id: another project's ids are not confirmed to exist.
            raise NotFoundError(f"no segment with id {segment.id!r}")
        return source

    def _check_span(self, who: Access, source_id: str, start: int, end: int) -> None:
        length = len(self._repository.get_source(source_id).text)
        if not 0 <= start < end <= length:
            raise AdjudicationError(f"span {start}-{end} is not a non-empty span of the source (0-{length})")

    def _codebook(self, who: Access) -> Codebook:
        codebook = self._repository.latest_codebook(who.project.id)
        if codebook is None:
            raise AdjudicationError("the project has no codebook yet")
        return codebook

    def _code(self, who: Access, code_id: str) -> Code:
        """A code of the project's current codebook that the member may see (a merged-away code is no longer
        one)."""
        self._codebook(who)
        for code in self.visible_codes(who):
            if code.id == code_id:
                return code
        raise AdjudicationError(f"the codebook has no code with id {code_id!r}")

    def _bulk_candidates(self, who: Access, request: BulkRequest) -> list[tuple[Suggestion, str]]:
        where = SuggestionFilter(
            code_id=request.code_id,
            min_confidence=request.min_confidence,
            source_id=request.source_id,
            mode="deductive",
        )
        reviewed, _ = self._marked(who)
        return [
            (s, source_id)
            for s, source_id in self._suggestions.matching(who.project.id, where, coder_id=self._scope(who))
            if s.segment_id not in reviewed
        ]


def _matching_codings(
    codings: list[Coding],
    where: CodingFilter,
    codes: dict[str, Code],
    members: dict[str, str],
    sources: dict[str, Source],
) -> list[Coding]:
    if where.code is not None:
        key = same_name_key(where.code)
        named = {c.id for c in codes.values() if where.code == c.id or same_name_key(c.name) == key}
        if not named:
            raise AdjudicationError(f"code: the project has no code {where.code!r}")
        wanted = state.codes_under(codes.values(), named)
        codings = [c for c in codings if c.code_id in wanted]
    if where.coder is not None:
        # Among the project's members only: any other name would tell who has an account elsewhere.
        coders = {user_id for user_id, name in members.items() if name == where.coder}
        if not coders:
            raise AdjudicationError(f"coder: no member of the project is called {where.coder!r}")
        codings = [c for c in codings if c.coder_id in coders]
    if where.source is not None:
        chosen = {s.id for s in sources.values() if where.source in (s.id, s.name)}
        if not chosen:
            raise AdjudicationError(f"source: the project has no source {where.source!r}")
        codings = [c for c in codings if c.source_id in chosen]
    if where.since is not None:
        codings = [c for c in codings if c.decided_at.astimezone(UTC).date() >= where.since]
    if where.until is not None:
        codings = [c for c in codings if c.decided_at.astimezone(UTC).date() <= where.until]
    return codings


def _neighbour(ordered: Sequence[str], pool: Sequence[str], current: str, step: int) -> str | None:
    """The nearest segment of ``pool`` before (step -1) or after (+1) ``current`` in ``ordered``; after the
    last one the queue starts again from its beginning."""
    if current not in ordered:
        return pool[0] if pool and step > 0 else None
    index = ordered.index(current)
    members = set(pool)
    walk = ordered[index + 1 :] if step > 0 else reversed(ordered[:index])
    for candidate in walk:
        if candidate in members and candidate != current:
            return candidate
    if step > 0:
        return next((s for s in pool if s != current), None)
    return None


def _snapshot_text(snapshot: dict[str, object] | None, key: str) -> str | None:
    value = (snapshot or {}).get(key)
    return str(value) if value else None
