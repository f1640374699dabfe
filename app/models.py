"""The data model. The database is the source of truth (SPEC §1); Redis only delivers."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.extensions import db
from app.scheduling.timing import Timing, stored_timing

ROLES = ("admin", "viewer")
AGENT_KINDS = ("openai", "webhook", "python", "demo")
OVERLAP_POLICIES = ("skip", "queue_one", "allow")
RUN_TRIGGERS = ("scheduled", "manual", "retry", "catchup")
RUN_STATUSES = ("PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "MISSED")
ACTIVE_STATUSES = ("PENDING", "RUNNING")

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters


def utcnow() -> datetime:
    return datetime.now(UTC)


def name_key(name: str) -> str:
    """The case-insensitive identity of a name: trimmed and case-folded in Python.

    Computed here rather than with SQL lower() so SQLite and PostgreSQL agree on
    non-ASCII names, and a plain unique constraint enforces it on both.
    """
    return " ".join(name.split()).casefold()


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on every database.

    SQLite has no time zone type, so values are stored as naive UTC there and made
    aware again on the way out; PostgreSQL stores timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organization {self.name!r}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.id"
    )
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if _hasher.check_needs_rehash(self.password_hash):
            self.password_hash = _hasher.hash(password)
        return True

    def membership_in(self, organization_id: int | None) -> Membership | None:
        return next((m for m in self.memberships if m.organization_id == organization_id), None)

    def __repr__(self) -> str:
        return f"<User {self.email!r}>"


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        CheckConstraint("role IN ('admin', 'viewer')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored.

    A fast hash is right here (unlike passwords): the token is 256 random bits, so
    there is nothing to brute-force, and every API request must look it up.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists so a token can be recognised
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str = "") -> tuple[ApiToken, str]:
        """Create a token; the plain value is returned once and never stored."""
        plain = "tp_" + secrets.token_urlsafe(32)
        token = cls(user=user, name=name, token_hash=cls.digest(plain), prefix=plain[:10])
        return token, plain


class Agent(db.Model):
    """Where prompts go (SPEC §5.1). Secrets are referenced by env-var name in `config`."""

    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("organization_id", "name_key"),
        CheckConstraint("kind IN ('openai', 'webhook', 'python', 'demo')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("name")
    def _set_key(self, _key: str, value: str) -> str:
        value = value.strip()
        self.name_key = name_key(value)
        return value


class Schedule(db.Model):
    """A prompt and when it runs (SPEC §2)."""

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("organization_id", "name_key"),
        CheckConstraint(
            "schedule_type IN ('ONCE', 'DAILY', 'WEEKLY', 'MONTHLY', 'CRON')", name="type"
        ),
        CheckConstraint("overlap_policy IN ('skip', 'queue_one', 'allow')", name="overlap"),
        # The scheduler's question "what is due next?" and the list's default order.
        Index("ix_schedules_due", "enabled", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text)
    agent_name: Mapped[str] = mapped_column(String(200), default="orchestrator")
    schedule_type: Mapped[str] = mapped_column(String(16))
    schedule_config: Mapped[dict] = mapped_column(JSON, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    session_config: Mapped[dict] = mapped_column(JSON, default=lambda: {"use_existing": False})
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=300)
    overlap_policy: Mapped[str] = mapped_column(String(16), default="skip")
    catchup_window_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, default=60)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # ONCE, after its run
    # Set when the schedule comes from `schedules import FILE` (config as code).
    managed_source: Mapped[str | None] = mapped_column(String(500))

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[User | None] = relationship()
    organization: Mapped[Organization] = relationship()

    @validates("name")
    def _set_key(self, _key: str, value: str) -> str:
        value = value.strip()
        self.name_key = name_key(value)
        return value

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None

    def timing(self) -> Timing:
        """The timing rules of the stored fields (raises TimingError if today's rules reject
        them, e.g. a zone removed from tzdata)."""
        return stored_timing(
            self.schedule_type, self.schedule_config, self.timezone, self.start_at, self.end_at
        )

    def __repr__(self) -> str:
        return f"<Schedule {self.id} {self.name!r}>"


class Run(db.Model):
    """One execution, or one slot that did not execute (SPEC §3)."""

    __tablename__ = "runs"
    __table_args__ = (
        # Exactly once (SPEC §3.1): the claim on a scheduled slot is an INSERT against this
        # key. `slot_at` is the slot for scheduled/catchup/retry runs and NULL for manual
        # runs; NULLs never collide, on SQLite or PostgreSQL, so Run Now is not limited.
        UniqueConstraint("schedule_id", "slot_at", "attempt"),
        CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'SKIPPED', 'MISSED')",
            name="status",
        ),
        CheckConstraint("trigger IN ('scheduled', 'manual', 'retry', 'catchup')", name="trigger"),
        # History pages: newest first per schedule, keyset-paginated on id.
        Index("ix_runs_schedule_id_id", "schedule_id", "id"),
        # Active-run checks (overlap, lost workers) touch only a handful of rows.
        Index("ix_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(16))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    reason: Mapped[str | None] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Numeric(12, 6, asdecimal=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    schedule: Mapped[Schedule] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def finish(
        self,
        status: str,
        reason: str | None = None,
        error: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """End the run: SUCCESS, FAILED, SKIPPED or MISSED, with when and how long."""
        for key, value in final_fields(status, reason, error, self.started_at, now).items():
            setattr(self, key, value)


def final_fields(
    status: str, reason: str | None, error: str | None, started_at: datetime | None, now=None
) -> dict[str, Any]:
    """The columns that end a run: status, reason, error, when, and how long it ran."""
    if status not in RUN_STATUSES or status in ACTIVE_STATUSES:
        raise ValueError(f"not a final status: {status!r}")
    completed_at = now or utcnow()
    duration_ms = None
    if started_at is not None:
        duration_ms = max(0, int((completed_at - started_at).total_seconds() * 1000))
    return {
        "status": status, "reason": reason, "error": error, "completed_at": completed_at,
        "duration_ms": duration_ms,
    }  # fmt: skip


class ChatSession(db.Model):
    """A conversation the runs write to (SPEC §5.2). Outlives its schedule."""

    __tablename__ = "chat_sessions"
    __table_args__ = (Index("ix_chat_sessions_org_created", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('system', 'user', 'assistant', 'tool')", name="role"),
        Index("ix_messages_session_id_id", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    tool_calls: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[ChatSession] = relationship(back_populates="messages")


class AuditEvent(db.Model):
    """Who changed what, when (SPEC §4). `changes` is a field diff: {field: [old, new]}."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_id", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320))  # kept when the user is deleted
    action: Mapped[str] = mapped_column(String(64))  # "schedule.create", "schedule.run", ...
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer)
    object_name: Mapped[str] = mapped_column(String(300), default="")
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def record(
        cls,
        *,
        organization_id: int,
        user: User | None,
        action: str,
        obj: Any,
        changes: dict | None = None,
    ) -> AuditEvent:
        """Add an audit event to the session; it commits with the change it describes."""
        event = cls(
            organization_id=organization_id,
            user_id=user.id if user else None,
            actor=user.email if user else "system",
            action=action,
            object_type=type(obj).__name__.lower(),
            object_id=getattr(obj, "id", None),
            object_name=getattr(obj, "name", "") or "",
            changes=changes or {},
        )
        db.session.add(event)
        return event
