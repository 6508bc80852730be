"""Authentication and project membership for every HTTP route.

A request proves who it is with an API token (``Authorization: Bearer gc_...``) or the login session
cookie the review page gets. Every project route then checks that the user is a member of the project:
an unknown project and a project the user is not a member of get the same 404, so project names are not
confirmed to outsiders. Browsers send the session cookie on their own, so a state-changing request that
relies on the cookie must also carry the ``X-Groundcode`` header, which other sites' pages cannot add
(cross-site request forgery protection).

The operations routes (the queue's state, retries, metrics) concern every project: they answer requests
that carry ``GROUNDCODE_SERVICE_TOKEN`` (monitoring, other services) and instance administrators
(``groundcode user admin``), nobody else.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from groundcode.app import Groundcode
from groundcode.domain import Access, Role, User

SESSION_COOKIE = "groundcode_session"
CSRF_HEADER = "X-Groundcode"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _groundcode(request: Request) -> Groundcode:
    groundcode: Groundcode = request.app.state.groundcode
    return groundcode


def _credentials(request: Request) -> tuple[str | None, bool]:
    """``(token, came_from_cookie)``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def optional_user(request: Request, groundcode: Annotated[Groundcode, Depends(_groundcode)]) -> User | None:
    """The authenticated user, or ``None`` (for pages that offer a login form instead of refusing)."""
    token, from_cookie = _credentials(request)
    if token is None:
        return None
    user = groundcode.accounts.user_for_token(token)
    unsafe = from_cookie and request.method not in _SAFE_METHODS
    if user is not None and unsafe and request.headers.get(CSRF_HEADER) is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"requests with the session cookie need {CSRF_HEADER}")
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The authenticated user; 401 without valid credentials."""
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in, or send an API token as 'Authorization: Bearer <token>' (groundcode token create)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def project_access(
    project: str, user: CurrentUser, groundcode: Annotated[Groundcode, Depends(_groundcode)]
) -> Access:
    """The user's access to the project named in the path; 404 unless they are a member."""
    found = groundcode.repository.find_project(project)
    role = groundcode.accounts.role(found.id, user.id) if found is not None else None
    if found is None or role is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no project named {project!r} that you are a member of"
        )
    return Access(project=found, user=user, role=role)


def _requiring(*roles: Role) -> object:
    def check(access: Annotated[Access, Depends(project_access)]) -> Access:
        access.require(*roles)
        return access

    return Depends(check)


ProjectReader = Annotated[Access, Depends(project_access)]
"""Any member: owners, coders and viewers."""
ProjectCoder = Annotated[Access, _requiring(Role.OWNER, Role.CODER)]
"""Members who may change the project's data: owners and coders."""
ProjectOwner = Annotated[Access, _requiring(Role.OWNER)]


def operations_access(request: Request, groundcode: Annotated[Groundcode, Depends(_groundcode)]) -> None:
    """The service token, if one is configured (compared in constant time), or an administrator's login."""
    expected = groundcode.settings.service_token
    token, from_cookie = _credentials(request)
    given = (token or "").encode() if not from_cookie else b""
    if expected is not None and hmac.compare_digest(given, expected.get_secret_value().encode()):
        return
    user = optional_user(request, groundcode)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "operations routes need the service token as 'Authorization: Bearer <token>' "
            "(GROUNDCODE_SERVICE_TOKEN) or an instance administrator's login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not user.admin:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "operations routes are for instance administrators (groundcode user admin)",
        )


OperationsAccess = Depends(operations_access)
"""For the operations routes: the service token or an instance administrator."""
