"""Users, project memberships and tokens. Passwords are stored as scrypt hashes and tokens as SHA-256
digests: neither can be read back from the database. Every token expires; changing a password revokes the
user's sessions and tokens. Failed logins are counted per account and per address, for throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import Member, Model, Project, Role, User, new_id, utcnow
from groundcode.errors import AccountError, NotFoundError
from groundcode.settings import TOKEN_LIFETIME
from groundcode.storage.database import transaction
from groundcode.storage.tables import ApiTokenRow, LoginFailureRow, MembershipRow, ProjectRow, UserRow

TOKEN_PREFIX = "gc_"
SESSION_LIFETIME = timedelta(days=14)
FAILURE_WINDOW = timedelta(minutes=15)
"""Failed logins further apart than this start the count again."""
FREE_FAILURES = 5
"""Failed logins allowed within the window before each further attempt waits."""
FIRST_LOCKOUT = timedelta(minutes=1)
LONGEST_LOCKOUT = timedelta(days=1)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """A salted scrypt hash, with its parameters, as one string."""
    if len(password) < 8:
        raise AccountError("a password needs at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lockout(failures: int) -> timedelta:
    """How long logins wait after ``failures`` failed ones in a row: nothing for the first few, then one
    minute, doubling with each further failure, at most a day."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    factor = 1 << min(failures - FREE_FAILURES, 20)
    return min(FIRST_LOCKOUT * factor, LONGEST_LOCKOUT)


class TokenInfo(Model):
    """A token as listed (never the token itself)."""

    id: str
    username: str
    kind: str
    label: str
    created_at: datetime
    expires_at: datetime | None


class AccountStore:
    """Reads and writes users, tokens and memberships; each public method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add_user(
        self, username: str, *, password: str | None = None, display_name: str = "", admin: bool = False
    ) -> User:
        """A new user (with a password for the web page, or none for token-only use)."""
        user = User(username=username, display_name=display_name or username, admin=admin)
        password_hash = hash_password(password) if password is not None else None
        try:
            with transaction(self._sessions) as session:
                session.add(UserRow(**user.model_dump(), password_hash=password_hash))
        except IntegrityError as error:
            raise AccountError(f"a user named {username!r} already exists") from error
        return user

    def set_password(self, username: str, password: str) -> int:
        """Change the password and revoke every session and token of the user (returns how many)."""
        password_hash = hash_password(password)
        with transaction(self._sessions) as session:
            row = self._user_row(session, username)
            row.password_hash = password_hash
            revoked = session.scalars(
                delete(ApiTokenRow).where(ApiTokenRow.user_id == row.id).returning(ApiTokenRow.id)
            )
            return len(revoked.all())

    def set_admin(self, username: str, admin: bool) -> None:
        """Make the user an instance administrator (operations routes), or no longer one."""
        with transaction(self._sessions) as session:
            self._user_row(session, username).admin = admin

    def imported_into(self, project_id: str) -> set[str]:
        """Ids of the accounts a REFI-QDA import into the project created."""
        with self._sessions() as session:
            return set(session.scalars(select(UserRow.id).where(UserRow.imported_into == project_id)))

    def find_user(self, username: str) -> User | None:
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            return _user(row) if row else None

    def get_user(self, username: str) -> User:
        user = self.find_user(username)
        if user is None:
            raise NotFoundError(f"no user named {username!r}; add one with 'groundcode user add'")
        return user

    def list_users(self) -> list[User]:
        with self._sessions() as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]

    def check_password(self, username: str, password: str) -> User | None:
        """The user, if the password is theirs; ``None`` otherwise (without saying which part was wrong)."""
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            if row is None or row.password_hash is None:
                hash_password("x" * 8)  # spend the same time, so timing does not reveal unknown users
                return None
            return _user(row) if password_matches(password, row.password_hash) else None

    def issue_token(
        self, user_id: str, *, kind: str = "api", label: str = "", lifetime: timedelta | None = None
    ) -> str:
        """A new token for the user, returned once; only its digest is kept. It expires after ``lifetime``
        (by default 14 days for a login session, 90 for an API token)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + (lifetime or (SESSION_LIFETIME if kind == "session" else TOKEN_LIFETIME))
        with transaction(self._sessions) as session:
            session.add(
                ApiTokenRow(
                    id=new_id(),
                    user_id=user_id,
                    token_hash=token_digest(token),
                    kind=kind,
                    label=label,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return token

    def user_for_token(self, token: str, *, now: datetime | None = None) -> User | None:
        with self._sessions() as session:
            row = session.execute(
                select(UserRow, ApiTokenRow.expires_at)
                .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
                .where(ApiTokenRow.token_hash == token_digest(token))
            ).first()
            if row is None:
                return None
            user_row, expires_at = row
            if expires_at is not None and expires_at <= (now or utcnow()):
                return None
            return _user(user_row)

    def revoke_token(self, token: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(delete(ApiTokenRow).where(ApiTokenRow.token_hash == token_digest(token)))

    def list_tokens(self, username: str | None = None) -> list[TokenInfo]:
        """Every session and API token (of one user), oldest first."""
        query = select(ApiTokenRow, UserRow.username).join(UserRow, UserRow.id == ApiTokenRow.user_id)
        if username is not None:
            query = query.where(UserRow.username == username)
        with self._sessions() as session:
            return [
                TokenInfo(
                    id=row.id,
                    username=name,
                    kind=row.kind,
                    label=row.label,
                    created_at=row.created_at,
                    expires_at=row.expires_at,
                )
                for row, name in session.execute(query.order_by(ApiTokenRow.created_at))
            ]

    def revoke_token_ids(self, token_ids: Collection[str]) -> int:
        """Revoke tokens by their listed ids; returns how many there were."""
        with transaction(self._sessions) as session:
            revoked = session.scalars(
                delete(ApiTokenRow).where(ApiTokenRow.id.in_(list(token_ids))).returning(ApiTokenRow.id)
            )
            return len(revoked.all())

    def login_wait(self, keys: Sequence[str], *, now: datetime | None = None) -> timedelta:
        """How long a login for these keys (an account, an address) must still wait after failures."""
        moment = now or utcnow()
        with self._sessions() as session:
            rows = session.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))
            waits = [row.last_failure_at + lockout(row.failures) - moment for row in rows]
        return max([timedelta(0), *waits])

    def record_login_failure(self, keys: Sequence[str], *, now: datetime | None = None) -> None:
        """Count a failed login against each key (a count older than the window starts again)."""
        moment = now or utcnow()
        with transaction(self._sessions) as session:
            for key in keys:
                row = session.get(LoginFailureRow, key)
                if row is None:
                    session.add(LoginFailureRow(key=key, failures=1, last_failure_at=moment))
                    continue
                recent = moment - row.last_failure_at <= FAILURE_WINDOW + lockout(row.failures)
                row.failures = row.failures + 1 if recent else 1
                row.last_failure_at = moment

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        with transaction(self._sessions) as session:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))

    def set_member(self, project_id: str, user_id: str, role: Role) -> None:
        """Give the user this role in the project (adding or changing the membership)."""
        with transaction(self._sessions) as session:
            row = session.get(MembershipRow, (project_id, user_id))
            if row is None:
                session.add(MembershipRow(project_id=project_id, user_id=user_id, role=role.value))
            else:
                row.role = role.value

    def remove_member(self, project_id: str, user_id: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(
                delete(MembershipRow).where(
                    MembershipRow.project_id == project_id, MembershipRow.user_id == user_id
                )
            )

    def role(self, project_id: str, user_id: str) -> Role | None:
        """The user's role in the project, ``None`` for a non-member."""
        with self._sessions() as session:
            row = session.get(MembershipRow, (project_id, user_id))
            return Role(row.role) if row else None

    def members(self, project_id: str) -> list[Member]:
        query = (
            select(MembershipRow.role, UserRow)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.project_id == project_id)
            .order_by(UserRow.username)
        )
        with self._sessions() as session:
            return [
                Member(project_id=project_id, user=_user(row), role=Role(role))
                for role, row in session.execute(query)
            ]

    def projects_of(self, user_id: str) -> list[tuple[Project, Role]]:
        query = (
            select(ProjectRow, MembershipRow.role)
            .join(MembershipRow, MembershipRow.project_id == ProjectRow.id)
            .where(MembershipRow.user_id == user_id)
            .order_by(ProjectRow.name)
        )
        with self._sessions() as session:
            return [
                (Project.model_validate(row, from_attributes=True), Role(role))
                for row, role in session.execute(query)
            ]

    def set_visibility(
        self, project_id: str, *, blind: bool | None = None, revealed: bool | None = None
    ) -> None:
        """Switch blind coding on or off, or reveal every coder's decisions to the others."""
        with transaction(self._sessions) as session:
            row = session.get(ProjectRow, project_id)
            if row is None:
                raise NotFoundError(f"no project with id {project_id!r}")
            if blind is not None:
                row.blind = blind
            if revealed is not None:
                row.revealed = revealed

    @staticmethod
    def _user_row(session: Session, username: str) -> UserRow:
        row = session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise NotFoundError(f"no user named {username!r}")
        return row


def _user(row: UserRow) -> User:
    return User.model_validate(row, from_attributes=True)
