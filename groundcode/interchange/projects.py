"""REFI-QDA projects in and out of the database: the reads and writes around the pure ``mapping``.

An import is all or nothing: the file has been read and checked in full (``read_project``) before, and
everything it writes -- project, sources and their segments, codebook version, accounts, memberships,
decisions and their learn work items -- goes into one database transaction, so any error leaves nothing.
The chunk stage's work (``segments_for``) is done inside it, so codings never name segments not yet stored;
indexing, suggesting and learning follow on the queue (``ImportOutcome.work``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from groundcode.app import Groundcode
from groundcode.domain import Decision, Memo, Model, Project, Role, Stage, User, utcnow
from groundcode.interchange.mapping import ProjectExport, match_sources, plan_import, project_to_qda
from groundcode.interchange.refiqda import QdaProject, write_project
from groundcode.storage.accounts import AccountStore
from groundcode.storage.database import transaction
from groundcode.storage.decisions import DecisionStore
from groundcode.storage.memos import MemoStore
from groundcode.storage.repository import Repository
from groundcode.storage.tables import UserRow
from services.chunking.segmenter import ChunkOptions


class ImportSummary(Model):
    """What an import stored, what was there already, and what it left out."""

    project: str
    sources_added: list[str]
    sources_known: list[str]
    codebook: str | None = None
    codebook_version: int | None = None
    codes: int = 0
    accounts_added: list[str]
    users: list[str]  # the accounts of the file's users
    codings_added: int
    codings_known: int
    memos_added: int = 0  # new memos or new versions: project, journal, source, code and coding memos
    left_out: list[str]


@dataclass(frozen=True)
class ImportOutcome:
    summary: ImportSummary
    work: list[tuple[Stage, list[str]]]  # what the queue does next, stage by stage


def import_project(
    groundcode: Groundcode,
    project_name: str,
    qda: QdaProject,
    options: ChunkOptions,
    *,
    where: str,
    user_map: Mapping[str, str] | None = None,
) -> ImportOutcome:
    """Store ``qda`` in the named project (created if new), in one transaction. The file's users become new
    accounts unless ``user_map`` (GUID -> username, the importing owner's choice) names existing ones.

    Raises ``InterchangeError`` (naming ``where``, the file) if the file cannot be stored; nothing is then."""
    with _one_transaction(groundcode.engine) as stores:
        repository, accounts = stores.repository, stores.accounts
        project = repository.ensure_project(project_name)
        matches, left_out = match_sources(
            qda, project.id, options, repository.list_sources(project.id), where=where
        )
        plan = plan_import(
            qda,
            project,
            matches,
            {match.source.id: repository.list_segments(match.source.id) for match in matches},
            accounts=accounts.list_users(),
            member_ids=[member.user.id for member in accounts.members(project.id)],
            decision_ids=[decision.id for decision in stores.decisions.list(project.id)],
            now=utcnow(),
            where=where,
            user_map=user_map,
            reusable_ids=accounts.imported_into(project.id),
            stored_memos=stores.memos.newest(project.id),
        )
        for source in plan.sources:
            repository.add_source(source)
            repository.replace_segments(source.id, plan.segments[source.id])
        codebook, codebook_changed = (
            repository.save_codebook(project.id, plan.codebook_name, plan.codes)
            if plan.codes
            else (None, False)
        )
        _add_accounts(stores.sessions, plan.new_users, project.id)
        for user_id in plan.coders:
            accounts.set_member(project.id, user_id, Role.CODER)
        # One append per coder: ``append`` follows review versions per segment across the batch, so two
        # coders' decisions on one segment in one call would look like a conflict.
        for coder_id in dict.fromkeys(decision.coder_id for decision in plan.decisions):
            mine = [decision for decision in plan.decisions if decision.coder_id == coder_id]
            stores.decisions.append(mine, follow_up=Stage.LEARN)
        for memo in plan.memos:
            stores.memos.append(memo)
    summary = ImportSummary(
        project=project.name,
        sources_added=[source.name for source in plan.sources],
        sources_known=plan.known_sources,
        codebook=codebook.name if codebook else None,
        codebook_version=codebook.version if codebook else None,
        codes=len(plan.codes),
        accounts_added=[user.username for user in plan.new_users],
        users=[user.username for user in plan.users],
        codings_added=len(plan.decisions),
        codings_known=plan.known_codings,
        memos_added=len(plan.memos),
        left_out=left_out + plan.left_out,
    )
    work = [
        (Stage.INDEX_CODEBOOK, [codebook.id] if codebook and codebook_changed else []),
        (Stage.INDEX, [source.id for source in plan.sources]),  # then suggest, as after chunking
        (Stage.LEARN, [decision.id for decision in plan.decisions]),
    ]
    return ImportOutcome(summary=summary, work=[(stage, ids) for stage, ids in work if ids])


def export_project(
    groundcode: Groundcode,
    project: Project,
    decisions: Sequence[Decision],
    hidden_codes: Collection[str] = (),
    memos: Sequence[Memo] = (),
) -> tuple[bytes, ProjectExport]:
    """The .qdpx of ``project`` with the codings in force of ``decisions`` and the ``memos`` (only those
    the reader may see), without ``hidden_codes`` (other coders' new codes the reader may not see yet), and
    what it holds and could not carry. Raises ``InterchangeError`` if the project cannot be written."""
    repository = groundcode.repository
    codebook = repository.latest_codebook(project.id)
    if codebook is not None:
        shown = [code for code in codebook.codes if code.id not in hidden_codes]
        codebook = codebook.model_copy(update={"codes": shown})
    code_index = repository.code_index(project.id)
    exported = project_to_qda(
        project,
        repository.list_sources(project.id),
        codebook,
        {code_id: code for code_id, code in code_index.items() if code_id not in hidden_codes},
        groundcode.accounts.list_users(),
        decisions,
        memos,
    )
    return write_project(exported.project), exported


@dataclass(frozen=True)
class _Stores:
    sessions: sessionmaker[Session]
    repository: Repository
    accounts: AccountStore
    decisions: DecisionStore
    memos: MemoStore


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[_Stores]:
    """The stores, every write of theirs in one transaction: committed when the block ends, rolled back if it
    raises. Their own transactions join it ("rollback_only": their commits do not end it)."""
    with engine.connect() as connection, connection.begin():
        sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="rollback_only"
        )
        yield _Stores(
            sessions,
            Repository(sessions),
            AccountStore(sessions),
            DecisionStore(sessions),
            MemoStore(sessions),
        )


def _add_accounts(sessions: sessionmaker[Session], users: Sequence[User], project_id: str) -> None:
    """Accounts without a password, with the ids the import chose (``AccountStore.add_user`` draws one),
    marked as made by an import into the project (its later imports may use them again)."""
    with transaction(sessions) as session:
        session.add_all(
            UserRow(**user.model_dump(), password_hash=None, imported_into=project_id) for user in users
        )
