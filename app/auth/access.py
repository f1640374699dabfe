"""Who is asking, in which organization, with which role: decided here for pages and API.

Every request gets `g.user`, `g.org` and `g.membership` (or None). Views declare the role
they need with @role_required; objects are fetched through get_scoped_or_404 so that an
object of another organization is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, request, session
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from app.auth import throttle
from app.extensions import db, login_manager
from app.models import ApiToken, Membership, User, utcnow

F = TypeVar("F", bound=Callable[..., Any])
# The largest id a key column holds: the ids are INTEGER, 32 bits on PostgreSQL.
MAX_ID = 2**31 - 1
M = TypeVar("M")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = db.session.execute(
        db.select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(token.strip()))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    wait = throttle.api_retry_after(row.id)
    if wait:
        raise TooManyRequests(
            f"Too many requests for this token: at most {current_app.config['API_RATE_LIMIT']} "
            f"a minute. Retry in {wait} s.",
            retry_after=wait,
        )
    now = utcnow()
    # Writing on every request would serialise API traffic on one row; a minute is precise enough.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        db.session.commit()
    return row.user


def _pick_membership(user: User, wanted: str | None) -> Membership | None:
    if not user.memberships:
        return None
    if wanted:
        for m in user.memberships:
            if str(m.organization_id) == wanted or m.organization.name == wanted:
                return m
        return None
    return user.memberships[0]


def _resolve_identity() -> None:
    g.user = g.membership = g.org = None
    g.org_ambiguous = False
    if is_api_request():
        # The API authenticates by bearer token only; cookies are ignored, so no CSRF applies.
        user = _bearer_user()
        if user is None:
            return
        g.user = user
        wanted = request.headers.get("X-Organization")
        if wanted is None and len(user.memberships) > 1:
            g.org_ambiguous = True
            return
        g.membership = _pick_membership(user, wanted)
    elif current_user.is_authenticated:
        g.user = current_user._get_current_object()
        g.membership = g.user.membership_in(session.get("org_id")) or _pick_membership(g.user, None)
    if g.membership is not None:
        g.org = g.membership.organization


def init_access(app: Flask) -> None:
    app.before_request(_resolve_identity)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    @login_manager.unauthorized_handler
    def _unauthorized():
        if is_api_request():
            abort(401)
        from flask import redirect, url_for

        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def role_required(role: str = "viewer") -> Callable[[F], F]:
    """Allow members of the current organization with at least `role` ("viewer" < "admin")."""
    if role not in ("viewer", "admin"):
        raise ValueError(role)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return login_manager.unauthorized()
            if g.org_ambiguous:
                abort(
                    400,
                    "You belong to several organizations: name one in the "
                    "X-Organization header (its id or name).",
                )
            if g.membership is None:
                abort(403, "You are not a member of this organization.")
            if role == "admin" and not g.membership.is_admin:
                abort(403, "Only an admin of this organization can do that.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def find_scoped(model: type[M], object_id: int) -> M | None:
    """An object of the current organization, or None (also for other organizations')."""
    if not 0 < object_id <= MAX_ID:
        return None  # no such row can exist, and the database would refuse the number
    obj = db.session.get(model, object_id)
    if obj is None or obj.organization_id != g.org.id:  # type: ignore[attr-defined]
        return None
    return obj


def get_scoped_or_404(model: type[M], object_id: int) -> M:
    """Load an object of the current organization, or 404 (also for other organizations')."""
    obj = find_scoped(model, object_id)
    if obj is None:
        abort(404)
    return obj


def can_edit() -> bool:
    """For templates: show controls that change things only to admins."""
    return g.get("membership") is not None and g.membership.is_admin
