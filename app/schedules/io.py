"""Schedules as code: the YAML document of `schedules export` and `schedules import` (SPEC §8).

The document::

    version: 1
    schedules:
      - name: Sales summary
        prompt: |
          Summarise yesterday's sales ({{ yesterday }}).
        schedule_type: DAILY
        schedule_config: {hour: 8, minute: 0}
        timezone: Europe/Berlin

Each entry holds the §2 fields under their API names. It is declarative: a field left out
takes its default (`service.DEFAULTS`), so removing a line from the file and importing again
resets that field. Export leaves out the fields equal to their default, so export → import
gives the same schedules.

Import is an upsert by name (case-insensitive, as names are unique): entries are planned
first — every problem of every entry is collected with the entry and the field, through the
same `service.validate` as the API and the console — and only a plan without problems is
applied, in one transaction. Imported schedules carry a marker, `managed_source` (the file's
name unless another label is given); `--prune` deletes the schedules of the organization that
carry *this* marker and are absent from the file. Schedules made in the console, and those
managed from another file, are never pruned.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from app.errors import ValidationFailed
from app.extensions import db
from app.models import Schedule, User, name_key
from app.schedules import service
from app.web import iso_z

VERSION = 1
TOP_LEVEL_KEYS = ("version", "schedules")
# Always written, even when equal to a default, so every entry reads on its own.
ALWAYS = ("name", "prompt", "schedule_type")
HEADER = (
    "# Taskplan schedules: flask --app wsgi schedules import FILE [--dry-run] [--prune]\n"
    "# A field left out takes its default. Format: docs/config-as-code.md\n"
)
MAX_VALUE_TEXT = 60


# ---- export


class _Dumper(yaml.SafeDumper):
    """Multi-line prompts as literal blocks, so the file reads like the prompt; list items
    indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Line breaks other than \n would be normalised inside a block: keep those quoted.
    block = "\n" in value and not any(c in value for c in "\r\x85\u2028\u2029")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else None)


_Dumper.add_representer(str, _represent_text)


def entry_of(schedule: Schedule) -> dict[str, Any]:
    """A schedule as a document entry: its §2 fields, defaults left out."""
    entry: dict[str, Any] = {}
    values = service.snapshot(schedule)
    for name in service.FIELDS:
        value = values[name]
        if isinstance(value, datetime):
            value = iso_z(value)
        if name in ALWAYS or value != service.DEFAULTS[name]:
            entry[name] = value
    return entry


def export_document(organization_id: int) -> str:
    """The organization's schedules as YAML, ordered by name (so exports diff well)."""
    schedules = db.session.execute(
        db.select(Schedule)
        .where(Schedule.organization_id == organization_id)
        .order_by(Schedule.name_key, Schedule.id)
    ).scalars()
    document = {"version": VERSION, "schedules": [entry_of(s) for s in schedules]}
    text = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None,
        width=100,
    )  # fmt: skip
    return HEADER + text


# ---- reading a document


class DocumentError(Exception):
    """The file cannot be imported: one message per problem, nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Loader(yaml.SafeLoader):
    """safe_load that refuses a key written twice in one mapping (the last would silently
    win, e.g. two `prompt:` lines)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"'{key}' is given twice (lines {seen[key]} and {line})",
                    key_node.start_mark,
                )  # fmt: skip
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep)


@dataclass
class Entry:
    index: int  # 1-based position in the file
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # found while reading (name, duplicate)

    @property
    def name(self) -> str | None:
        name = self.data.get("name")
        return name.strip() if isinstance(name, str) and name.strip() else None

    @property
    def label(self) -> str:
        return f"entry {self.index} ({self.name})" if self.name else f"entry {self.index}"


@dataclass
class Document:
    entries: list[Entry]
    problems: list[tuple[int, str]]  # (entry index, message); index 0: the document itself


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"invalid YAML{where}: {problem}"


def read_document(text: str) -> Document:
    """Parse the YAML and check the document's shape. Raises DocumentError when no entry can
    be read; other problems are kept so that `plan_import` reports them with the problems of
    the field values, all at once."""
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise DocumentError([_yaml_problem(exc)]) from None
    if not isinstance(document, dict):
        raise DocumentError(
            ["the document must be a mapping with 'version: 1' and a 'schedules' list"]
        )
    problems: list[tuple[int, str]] = []
    version = document.get("version")
    if "version" not in document:
        problems.append((0, f"'version' is missing (write 'version: {VERSION}')"))
    elif version != VERSION or isinstance(version, bool):
        problems.append((0, f"version {version!r} is not supported (only {VERSION})"))
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            problems.append((0, f"unknown top-level key '{key}' (expected: version, schedules)"))
    raw = document.get("schedules")
    if not isinstance(raw, list):
        problems.append(
            (0, "'schedules' must be a list of schedules ('schedules: []' for none)")
            if "schedules" in document
            else (0, "'schedules' is missing (a list of schedules; 'schedules: []' for none)")
        )
        raise DocumentError([message for _, message in problems])

    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            problems.append((index, f"entry {index}: must be a mapping of fields (name, ...)"))
            continue
        entry = Entry(index, item)
        name = item.get("name")
        if isinstance(name, int | float) and not isinstance(name, bool):
            entry.problems.append(f"{entry.label}: name: must be text (put it in quotes).")
        elif entry.name is not None:
            key = name_key(entry.name)
            if key in seen:
                entry.problems.append(
                    f"{entry.label}: name: the same name as entry {seen[key]} "
                    "(names are unique, ignoring case)."
                )
            seen.setdefault(key, index)
        entries.append(entry)
    return Document(entries, problems)


# ---- planning and applying an import


@dataclass
class Action:
    kind: str  # "create", "update", "unchanged" or "delete"
    name: str
    entry: Entry | None = None
    schedule: Schedule | None = None
    changes: dict[str, list] = field(default_factory=dict)


@dataclass
class Plan:
    organization_id: int
    source: str
    actions: list[Action]
    left_alone: int = 0  # managed from another source, absent from this file (not pruned)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.actions if a.kind == kind)

    @property
    def changes_anything(self) -> bool:
        return any(a.kind != "unchanged" for a in self.actions)


def _full(entry: Entry, schedule: Schedule | None = None) -> dict[str, Any]:
    """The entry with every field it leaves out at its default (the file is declarative).

    A ONCE schedule that has run (Completed, so disabled) is not enabled again by the
    `enabled: true` of the file it came from: that would run it once more at each import.
    Only a change of its timing in the file makes it a new one-off.
    """
    data = {**copy.deepcopy(service.DEFAULTS), **entry.data}
    if schedule is not None and schedule.is_completed and service.as_flag(data["enabled"]):
        before = service.snapshot(schedule)
        try:
            clean, _ = service.validate(schedule.organization_id, data, before, schedule.id)
        except ValidationFailed:
            return data  # reported by the caller's own validation
        if not any(clean[f] != before[f] for f in service.TIMING_FIELDS):
            data["enabled"] = False
    return data


def plan_import(organization_id: int, document: Document, source: str, prune: bool) -> Plan:
    """What importing the document would do. Raises DocumentError with every problem of every
    entry (entry, field, message), checked by the same rules as the API, and changes nothing."""
    existing = {
        s.name_key: s
        for s in db.session.execute(
            db.select(Schedule).where(Schedule.organization_id == organization_id)
        ).scalars()
    }
    actions: list[Action] = []
    problems = list(document.problems)
    for entry in document.entries:
        problems.extend((entry.index, problem) for problem in entry.problems)
        schedule = existing.get(name_key(entry.name)) if entry.name else None
        try:
            if schedule is None:
                clean, _ = service.validate(organization_id, _full(entry))
                actions.append(Action("create", clean["name"], entry))
                continue
            before = service.snapshot(schedule)
            clean, _ = service.validate(
                organization_id, _full(entry, schedule), before, schedule.id
            )
        except ValidationFailed as failed:
            for field_name, messages in failed.fields.items():
                if field_name == "name" and entry.problems:
                    continue  # already said, better, while reading
                problems.extend(
                    (entry.index, f"{entry.label}: {field_name}: {m}") for m in messages
                )
            if not failed.fields:
                problems.append((entry.index, f"{entry.label}: {failed.message}"))
            continue
        changes = service.diff(before, clean)
        if schedule.managed_source != source:
            changes["managed_source"] = [schedule.managed_source, source]
        kind = "update" if changes else "unchanged"
        actions.append(Action(kind, schedule.name, entry, schedule, changes))
    if problems:
        raise DocumentError([message for _, message in sorted(problems, key=lambda p: p[0])])

    in_file = {name_key(entry.name) for entry in document.entries if entry.name}
    left_alone = 0
    for key, schedule in sorted(existing.items()):
        if key in in_file or schedule.managed_source is None:
            continue
        if prune and schedule.managed_source == source:
            actions.append(Action("delete", schedule.name, schedule=schedule))
        elif prune:
            left_alone += 1
    return Plan(organization_id, source, actions, left_alone)


def apply_plan(plan: Plan, user: User | None) -> None:
    """Make the plan true in one transaction, then let the engine follow.

    Every entry is validated again as it is staged (nothing changed since the plan, within
    this process); if anything fails, or the commit does, nothing is kept.
    """
    saved: list[tuple[Schedule, bool]] = []
    deleted: list[tuple[int, int]] = []
    try:
        for action in plan.actions:
            if action.kind == "create":
                schedule = service.stage_create(
                    plan.organization_id, user, _full(action.entry), managed_source=plan.source
                )
                saved.append((schedule, True))
            elif action.kind == "update":
                rearm = service.stage_update(
                    action.schedule,
                    user,
                    _full(action.entry, action.schedule),
                    managed_source=plan.source,
                )
                if rearm is not None:
                    saved.append((action.schedule, rearm))
            elif action.kind == "delete":
                deleted.append(service.stage_delete(action.schedule, user))
        service.commit_staged()
    except BaseException:
        db.session.rollback()
        raise
    for schedule, rearm in saved:
        service.announce_saved(schedule, rearm)
    for schedule_id, organization_id in deleted:
        service.announce_deleted(schedule_id, organization_id)


def _value_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_TEXT else text[: MAX_VALUE_TEXT - 1] + "…"


def plan_lines(plan: Plan) -> list[str]:
    """One line per schedule (create / update / unchanged / delete), then the fields an
    update changes, indented: `    field: old -> new`."""
    lines: list[str] = []
    for action in plan.actions:
        lines.append(f"{action.kind:<9} {action.name}")
        if action.kind == "update":
            # In the order of the document's fields; the marker last.
            order = {name: i for i, name in enumerate(service.FIELDS)}
            lines.extend(
                f"    {name}: {_value_text(old)} -> {_value_text(new)}"
                for name, (old, new) in sorted(
                    action.changes.items(), key=lambda item: order.get(item[0], len(order))
                )
            )
    return lines
