"""Prompt templates (SPEC §5.3): one sandboxed Jinja environment for the save-time check and
the run-time rendering, so what is accepted when saved is what renders at run time.

Variables, all in the schedule's zone:

- ``scheduled_for``, ``now``: times, rendered as ISO 8601 with the zone's offset
  (``2026-04-01T00:30:00+09:00``); still datetimes, so ``{{ now.strftime('%A') }}`` works;
- ``today``, ``yesterday``: dates, ``YYYY-MM-DD``;
- ``last_week``: the ISO week before today's, ``YYYY-Www`` (``.start`` / ``.end`` dates);
- ``last_month``: the month before today's, ``YYYY-MM`` (``.start`` / ``.end`` dates);
- ``run_number``: this schedule's runs so far, this one included;
- ``schedule.name`` (and ``.description``, ``.timezone``), ``last_run.status`` (and
  ``.scheduled_for``; empty before the first run).

"Today" is the local date of the slot (``scheduled_for``), not of the moment the worker got
to it: a retry or a catch-up run an hour later still reports on the day it was due.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from rq.timeouts import JobTimeoutException

VARIABLES = (
    "scheduled_for", "now", "today", "yesterday", "last_week", "last_month", "run_number",
    "schedule", "last_run",
)  # fmt: skip
MAX_RENDERED = 100_000  # characters a rendered prompt may have


class PromptError(Exception):
    """The template cannot be used; the message says where and why."""


def _finalize(value: Any) -> Any:
    return "" if value is None else value


# StrictUndefined: a misspelt variable is an error, never silently empty text.
environment = SandboxedEnvironment(
    undefined=StrictUndefined, finalize=_finalize, keep_trailing_newline=True, autoescape=False
)


class IsoDateTime(datetime):
    """A datetime that renders as ISO 8601 (seconds, with its offset)."""

    def __str__(self) -> str:
        return self.isoformat(timespec="seconds")

    @classmethod
    def of(cls, value: datetime) -> IsoDateTime:
        return cls(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, value.tzinfo, fold=value.fold,
        )  # fmt: skip


@dataclass(frozen=True)
class IsoWeek:
    year: int
    week: int
    start: date  # Monday
    end: date  # Sunday

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"


@dataclass(frozen=True)
class ScheduleVars:
    id: int | None
    name: str
    description: str
    timezone: str


@dataclass(frozen=True)
class LastRun:
    status: str | None = None
    scheduled_for: IsoDateTime | None = None


def week_of(day: date) -> IsoWeek:
    year, week, weekday = day.isocalendar()
    start = day - timedelta(days=weekday - 1)
    return IsoWeek(year, week, start, start + timedelta(days=6))


def month_before(day: date) -> Month:
    end = day.replace(day=1) - timedelta(days=1)
    return Month(end.year, end.month, end.replace(day=1), end)


def variables(
    *,
    scheduled_for: datetime,
    now: datetime,
    timezone: str,
    schedule_name: str,
    schedule_id: int | None = None,
    description: str = "",
    run_number: int = 1,
    last_run_status: str | None = None,
    last_run_scheduled_for: datetime | None = None,
) -> dict[str, Any]:
    """The template's variables for a run due at `scheduled_for` (aware, any zone)."""
    zone = ZoneInfo(timezone)
    local = scheduled_for.astimezone(zone)
    today = local.date()
    last = (
        IsoDateTime.of(last_run_scheduled_for.astimezone(zone))
        if last_run_scheduled_for is not None
        else None
    )
    return {
        "scheduled_for": IsoDateTime.of(local),
        "now": IsoDateTime.of(now.astimezone(zone).replace(microsecond=0)),
        "today": today,
        "yesterday": today - timedelta(days=1),
        "last_week": week_of(today - timedelta(days=7)),
        "last_month": month_before(today),
        "run_number": run_number,
        "schedule": ScheduleVars(schedule_id, schedule_name, description or "", timezone),
        "last_run": LastRun(last_run_status, last),
    }


def check(source: str) -> str | None:
    """What is wrong with a template that can be told without running it, or None."""
    try:
        parsed = environment.parse(source)
    except TemplateSyntaxError as exc:
        return f"Template error on line {exc.lineno}: {(exc.message or '').rstrip('.')}."
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(VARIABLES))
    if unknown:
        names = ", ".join(unknown)
        return (
            f"Unknown template variable{'s' if len(unknown) > 1 else ''}: {names}. "
            f"Known: {', '.join(VARIABLES)}."
        )
    return None


def is_template(source: str) -> bool:
    """Whether the prompt has any Jinja syntax; plain text is sent as it is."""
    return any(mark in source for mark in ("{{", "{%", "{#"))


@functools.lru_cache(maxsize=512)
def _compiled(source: str):
    # Compiling is most of a render's cost, and a schedule sends the same prompt every time.
    return environment.from_string(source)


def render(source: str, values: dict[str, Any]) -> str:
    """The prompt a run sends; raises PromptError with a one-line message."""
    try:
        text = _compiled(source).render(values)
    except TemplateSyntaxError as exc:
        raise PromptError(f"Prompt template error on line {exc.lineno}: {exc.message}") from exc
    except TemplateError as exc:
        raise PromptError(f"Prompt template error: {exc.message or type(exc).__name__}") from exc
    except JobTimeoutException:
        raise  # the schedule's timeout, not the template's fault
    except Exception as exc:  # e.g. a division by zero inside the template
        raise PromptError(f"Prompt template error: {type(exc).__name__}: {exc}") from exc
    if len(text) > MAX_RENDERED:
        raise PromptError(f"The rendered prompt is longer than {MAX_RENDERED:,} characters")
    return text
