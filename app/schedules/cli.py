"""`flask --app wsgi schedules …` (SPEC §8): list, show, run, history, enable, disable,
export and import.

Every command works on one organization: `--org NAME` (or TASKPLAN_ORG), which may be left
out when there is only one. The commands apply the same rules as the API and the console
(app/schedules/service.py, app/runs/engine.py) and print the same data (`schedule_json`,
`run_json`). Changes are audited with the actor `cli`, or as the admin named by `--as EMAIL`.
Errors exit with status 1 and one line per problem on stderr; nothing is changed then.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from redis.exceptions import RedisError

from app.api.runs import run_json
from app.api.schedules import schedule_json
from app.errors import ValidationFailed
from app.extensions import db
from app.models import Organization, Run, Schedule, User, name_key
from app.runs import engine
from app.schedules import io, service

schedules = AppGroup("schedules", help="List, inspect, run, toggle, export and import schedules.")

HISTORY_MAX = 200
EMPTY = "-"


@dataclass(frozen=True)
class CommandLine:
    """The audit actor of changes made from the command line without --as (AuditEvent.record
    reads `id` and `email` of its user)."""

    id: None = None
    email: str = "cli"


class Failed(click.ClickException):
    """Exit 1 with one line per problem on stderr."""

    def __init__(self, *problems: str) -> None:
        super().__init__(problems[0] if problems else "Failed.")
        self.problems = list(problems)

    def show(self, file=None) -> None:
        for problem in self.problems:
            click.echo(f"Error: {problem}", err=True)


def _organization(name: str | None) -> Organization:
    if name is not None:
        org = db.session.execute(
            db.select(Organization).where(Organization.name == name)
        ).scalar_one_or_none()
        if org is None:
            known = _org_names()
            hint = f" Organizations: {', '.join(known)}." if known else ""
            raise Failed(f"Organization '{name}' not found.{hint}")
        return org
    orgs = db.session.execute(db.select(Organization).order_by(Organization.name).limit(11))
    orgs = list(orgs.scalars())
    if not orgs:
        raise Failed(
            "There is no organization yet: create one with "
            "`flask --app wsgi users create EMAIL --password P --org NAME`."
        )
    if len(orgs) > 1:
        raise Failed(
            f"There are several organizations ({', '.join(_org_names())}): "
            "choose one with --org NAME."
        )
    return orgs[0]


def _org_names(limit: int = 10) -> list[str]:
    names = list(
        db.session.execute(
            db.select(Organization.name).order_by(Organization.name).limit(limit + 1)
        ).scalars()
    )
    return names[:limit] + (["…"] if len(names) > limit else [])


def _schedule(org: Organization, name: str) -> Schedule:
    schedule = db.session.execute(
        db.select(Schedule).where(
            Schedule.organization_id == org.id, Schedule.name_key == name_key(name)
        )
    ).scalar_one_or_none()
    if schedule is None:
        raise Failed(f"Schedule '{name}' not found in {org.name}.")
    return schedule


def _actor(org: Organization, email: str | None) -> Any:
    """Who a change is audited as: the admin named by --as, else the actor "cli"."""
    if email is None:
        return CommandLine()
    user = db.session.execute(
        db.select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise Failed(f"User '{email}' not found.")
    membership = user.membership_in(org.id)
    if membership is None or not membership.is_admin:
        role = f"a {membership.role}" if membership else "not a member"
        raise Failed(f"{user.email} is {role} of {org.name}; only admins change schedules.")
    return user


def _org_option(command):
    return click.option(
        "--org", "org_name", envvar="TASKPLAN_ORG", metavar="NAME",
        help="Organization (required when there are several; env TASKPLAN_ORG).",
    )(command)  # fmt: skip


def _as_option(command):
    return click.option(
        "--as", "as_email", metavar="EMAIL",
        help="Audit the change as this admin of the organization (default actor: cli).",
    )(command)  # fmt: skip


def _validation_problems(failed: ValidationFailed) -> list[str]:
    return [f"{field}: {m}" for field, ms in failed.fields.items() for m in ms] or [failed.message]


def _json_dump(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _text(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# ---- reading


@schedules.command("list")
@_org_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's fields).")
def list_command(org_name: str | None, as_json: bool) -> None:
    """The organization's schedules, by name."""
    org = _organization(org_name)
    rows = list(
        db.session.execute(
            db.select(Schedule)
            .where(Schedule.organization_id == org.id)
            .order_by(Schedule.name_key, Schedule.id)
        ).scalars()
    )
    running = service.running_ids([s.id for s in rows])
    data = [schedule_json(s, s.id in running) for s in rows]
    if as_json:
        _json_dump(data)
        return
    if not data:
        click.echo(f"No schedules in {org.name}.")
        return
    _table(
        ["NAME", "TYPE", "STATUS", "NEXT RUN", "LAST RUN", "RUNS", "MANAGED FROM"],
        [
            [d["name"], d["schedule_type"], d["status"], _text(d["next_run_at"]),
             _text(d["last_run_at"]), str(d["run_count"]), _text(d["managed_source"])]
            for d in data
        ],
    )  # fmt: skip


SHOW_FIELDS = (
    "name", "status", "description", "agent", "schedule_type", "schedule_config", "timezone",
    "timing_description", "enabled", "next_run_at", "last_run_at", "run_count", "completed_at",
    "start_at", "end_at", "session_config", "timeout_seconds", "overlap_policy",
    "catchup_window_seconds", "max_retries", "retry_delay_seconds", "managed_source", "id",
    "created_at", "updated_at",
)  # fmt: skip


@schedules.command("show")
@click.argument("name")
@_org_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's fields).")
def show_command(name: str, org_name: str | None, as_json: bool) -> None:
    """One schedule: every field, its status and next run, and where it is managed from."""
    schedule = _schedule(_organization(org_name), name)
    data = schedule_json(schedule, bool(service.running_ids([schedule.id])))
    if as_json:
        _json_dump(data)
        return
    width = max(map(len, SHOW_FIELDS)) + 1
    for field in SHOW_FIELDS:
        value = data[field]
        if field == "managed_source" and value is None:
            value = "- (not managed from a file)"
        click.echo(f"{field + ':':<{width}} {_text(value)}")
    click.echo("prompt:")
    for line in data["prompt"].splitlines() or [""]:
        click.echo(f"  {line}".rstrip())


def _duration(ms: int | None) -> str:
    return EMPTY if ms is None else f"{ms / 1000:.3f}s"


@schedules.command("history")
@click.argument("name")
@_org_option
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, HISTORY_MAX),
    help="How many runs, newest first.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's run fields).")
def history_command(name: str, org_name: str | None, limit: int, as_json: bool) -> None:
    """A schedule's recent runs, newest first."""
    schedule = _schedule(_organization(org_name), name)
    runs = db.session.execute(
        db.select(Run).where(Run.schedule_id == schedule.id).order_by(Run.id.desc()).limit(limit)
    ).scalars()
    data = [run_json(run) for run in runs]
    if as_json:
        _json_dump(data)
        return
    if not data:
        click.echo(f"No runs of '{schedule.name}' yet.")
        return
    rows = []
    for run in data:
        status = run["status"] + (f" ({run['reason']})" if run["reason"] else "")
        error = (run["error"] or "").strip().splitlines()
        rows.append(
            [str(run["id"]), run["trigger"], status, run["scheduled_for"],
             _text(run["started_at"]), _duration(run["duration_ms"]),
             error[0] if error else EMPTY]
        )  # fmt: skip
    _table(["RUN", "TRIGGER", "STATUS", "SCHEDULED FOR", "STARTED", "DURATION", "ERROR"], rows)


# ---- changing


@schedules.command("run")
@click.argument("name")
@_org_option
@_as_option
def run_command(name: str, org_name: str | None, as_email: str | None) -> None:
    """Run Now: queue a manual run (the schedule's overlap policy may refuse it)."""
    org = _organization(org_name)
    schedule = _schedule(org, name)
    actor = _actor(org, as_email)
    try:
        run = engine.run_now(schedule, actor)
    except engine.RunRefused as refused:
        raise Failed(str(refused)) from None
    except RedisError as exc:
        # The run row is committed before the job is queued: the scheduler's sweep queues
        # PENDING runs whose job is missing once Redis answers again.
        click.echo(f"Warning: Redis did not answer ({exc}); the run is queued later.", err=True)
        run = db.session.execute(
            db.select(Run).where(Run.schedule_id == schedule.id).order_by(Run.id.desc())
        ).scalars().first()  # fmt: skip
        if run is None:
            raise Failed(f"Could not start a run of '{schedule.name}': {exc}") from None
    waiting = " (waits for the run in progress: queue_one)" if run.reason == "overlap" else ""
    click.echo(f"Run {run.id} of '{schedule.name}': {run.status}{waiting}")


def _toggle(name: str, org_name: str | None, as_email: str | None, enabled: bool) -> None:
    org = _organization(org_name)
    schedule = _schedule(org, name)
    actor = _actor(org, as_email)
    word = "enabled" if enabled else "disabled"
    if schedule.enabled == enabled:
        click.echo(f"'{schedule.name}' is already {word}.")
        return
    try:
        service.set_enabled(schedule, actor, enabled)
    except ValidationFailed as failed:
        raise Failed(*(f"'{schedule.name}': {p}" for p in _validation_problems(failed))) from None
    if enabled:
        next_run = _text(schedule_json(schedule, False)["next_run_at"])
        click.echo(f"'{schedule.name}' enabled; next run {next_run}.")
    else:
        click.echo(f"'{schedule.name}' disabled; history and settings are kept.")


@schedules.command("enable")
@click.argument("name")
@_org_option
@_as_option
def enable_command(name: str, org_name: str | None, as_email: str | None) -> None:
    """Enable a schedule: its next run is computed from now (no burst of missed runs)."""
    _toggle(name, org_name, as_email, True)


@schedules.command("disable")
@click.argument("name")
@_org_option
@_as_option
def disable_command(name: str, org_name: str | None, as_email: str | None) -> None:
    """Disable a schedule: no pending fire; history and settings stay."""
    _toggle(name, org_name, as_email, False)


# ---- schedules as code


@schedules.command("export")
@_org_option
def export_command(org_name: str | None) -> None:
    """Print the organization's schedules as YAML (the format `schedules import` reads)."""
    org = _organization(org_name)
    click.echo(io.export_document(org.id), nl=False)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Failed(f"{path}: no such file.") from None
    except UnicodeDecodeError:
        raise Failed(f"{path}: not UTF-8 text.") from None
    except OSError as exc:
        raise Failed(f"{path}: {exc.strerror or exc}.") from None


@schedules.command("import")
@click.argument("file", metavar="FILE")
@_org_option
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option(
    "--prune", is_flag=True,
    help="Also delete the schedules managed from this file (same --source) that it no "
    "longer lists. Schedules made in the console are never pruned.",
)  # fmt: skip
@click.option(
    "--source", metavar="LABEL",
    help="The marker stored on imported schedules (default: the file's name; 'stdin' for -).",
)  # fmt: skip
@_as_option
def import_command(
    file: str, org_name: str | None, dry_run: bool, prune: bool, source: str | None,
    as_email: str | None,
) -> None:  # fmt: skip
    """Upsert the schedules of a YAML file by name (FILE, or - for stdin), all or nothing."""
    if source is None:
        source = "stdin" if file == "-" else os.path.basename(file)
    source = source.strip()
    if not source or len(source) > 500:
        raise Failed("--source must be 1 to 500 characters.")
    org = _organization(org_name)
    actor = _actor(org, as_email)
    text = _read(file)
    label = "stdin" if file == "-" else file
    try:
        plan = io.plan_import(org.id, io.read_document(text), source, prune)
    except io.DocumentError as error:
        raise Failed(
            *(f"{label}: {p}" for p in error.problems),
            f"Nothing was imported ({len(error.problems)} problem"
            f"{'s' if len(error.problems) != 1 else ''}).",
        ) from None
    for line in io.plan_lines(plan):
        click.echo(line)
    summary = (
        f"{plan.count('create')} to create, {plan.count('update')} to update, "
        f"{plan.count('unchanged')} unchanged, {plan.count('delete')} to delete"
    )
    if plan.left_alone:
        click.echo(
            f"Note: {plan.left_alone} schedule(s) managed from another source and absent from "
            f"this file were left alone (--prune only removes those managed from '{source}')."
        )
    if dry_run:
        click.echo(f"Dry run: {summary} in {org.name}. Nothing was changed.")
        return
    if not plan.changes_anything:
        click.echo(f"{org.name} already matches {label}: nothing to change.")
        return
    try:
        io.apply_plan(plan, actor)
    except ValidationFailed as failed:
        raise Failed(*_validation_problems(failed), "Nothing was imported.") from None
    click.echo(
        f"Imported {label} into {org.name}: {plan.count('create')} created, "
        f"{plan.count('update')} updated, {plan.count('unchanged')} unchanged, "
        f"{plan.count('delete')} deleted."
    )
