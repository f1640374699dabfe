"""Schedules as code (app/schedules/io.py): the YAML document, planning an import (upsert by
name, every problem of every entry at once), applying it in one transaction, the marker and
--prune; export → import gives the same schedules and the same next runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
import yaml

from app.errors import ValidationFailed
from app.extensions import db, redis_client
from app.models import AuditEvent, Organization, Schedule
from app.schedules import io, service
from app.scheduling import bridge

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday

TRICKY_PROMPTS = [
    "Summarise yesterday's sales ({{ yesterday }}).\nBe brief.\n",
    "no trailing newline\nsecond line",
    "  indented first line\nnext\n",
    "trailing spaces  \nnext\n",
    "tab\tinside\nline\n",
    "ends with blank lines\n\n\n",
    "\nstarts with a newline",
    "Windows\r\nline ends\r\n",
    "unicode: é, 日本, emoji 🎉\nand a line separator\u2028here\n",
    "yes",
    "'quoted' and \"double\" and # not a comment: {x: 1}",
    "- looks like a list\n* and an alias\n& and an anchor\n",
    "...\n---\n",
]


@pytest.fixture
def ctx(app):
    with app.app_context(), time_machine.travel(NOW, tick=False):
        yield app


@pytest.fixture
def acme(ctx, admin):
    return admin.org_id


@pytest.fixture
def globex(ctx, outsider):
    return outsider.org_id


def make(org_id: int, **fields) -> Schedule:
    data = {
        "name": "Report",
        "prompt": "Summarise yesterday",
        "schedule_type": "DAILY",
        "schedule_config": {"hour": 8, "minute": 0},
        **fields,
    }
    return service.create_schedule(org_id, None, data)


def schedules_of(org_id: int) -> dict[str, Schedule]:
    db.session.expire_all()
    rows = db.session.execute(db.select(Schedule).where(Schedule.organization_id == org_id))
    return {s.name: s for s in rows.scalars()}


def do_import(org_id: int, text: str, source: str = "schedules.yaml", prune: bool = False):
    plan = io.plan_import(org_id, io.read_document(text), source, prune)
    io.apply_plan(plan, None)
    return plan


def problems_of(org_id: int, text: str, prune: bool = False) -> list[str]:
    with pytest.raises(io.DocumentError) as raised:
        io.plan_import(org_id, io.read_document(text), "schedules.yaml", prune)
    return raised.value.problems


def doc(*entries: dict) -> str:
    return yaml.safe_dump({"version": 1, "schedules": list(entries)}, sort_keys=False)


def entry(name: str = "Report", **fields) -> dict:
    return {
        "name": name,
        "prompt": "Summarise yesterday",
        "schedule_type": "DAILY",
        "schedule_config": {"hour": 8, "minute": 0},
        **fields,
    }


# ---- export


def test_export_writes_version_and_schedules_by_name_leaving_defaults_out(acme):
    make(acme, name="b weekly", schedule_type="WEEKLY",
         schedule_config={"day_of_week": "mon", "hour": 9, "minute": 30},
         timezone="Europe/Berlin", timeout_seconds=600)  # fmt: skip
    make(acme, name="A daily", prompt="Line one\nLine two\n")
    text = io.export_document(acme)
    assert text.startswith("# Taskplan schedules")
    document = yaml.safe_load(text)
    assert document == {
        "version": 1,
        "schedules": [
            {"name": "A daily", "prompt": "Line one\nLine two\n", "schedule_type": "DAILY",
             "schedule_config": {"hour": 8, "minute": 0}},
            {"name": "b weekly", "prompt": "Summarise yesterday", "schedule_type": "WEEKLY",
             "schedule_config": {"day_of_week": 1, "hour": 9, "minute": 30},
             "timezone": "Europe/Berlin", "timeout_seconds": 600},
        ],
    }  # fmt: skip
    # A multi-line prompt reads as a literal block, list items are indented under their key.
    assert "  - name: A daily\n    prompt: |\n      Line one\n      Line two\n" in text


def test_export_of_an_organization_without_schedules_is_an_empty_list(acme):
    assert yaml.safe_load(io.export_document(acme)) == {"version": 1, "schedules": []}


@pytest.mark.parametrize("prompt", TRICKY_PROMPTS)
def test_export_keeps_every_prompt_exactly(acme, prompt):
    make(acme, prompt=prompt)
    [exported] = yaml.safe_load(io.export_document(acme))["schedules"]
    assert exported["prompt"] == prompt


# ---- the round trip


def varied(org_id: int) -> None:
    """One schedule of every type, with every field away from its default somewhere."""
    make(org_id, name="Daily Berlin", timezone="Europe/Berlin", description="Sales\nsummary",
         prompt=TRICKY_PROMPTS[0])  # fmt: skip
    make(org_id, name="Weekly Friday", schedule_type="WEEKLY",
         schedule_config={"day_of_week": [5, "mon"], "hour": 17, "minute": 0},
         overlap_policy="queue_one", max_retries=3, retry_delay_seconds=30,
         prompt=TRICKY_PROMPTS[7])  # fmt: skip
    make(org_id, name="Month end", schedule_type="MONTHLY",
         schedule_config={"day_of_month": "last", "hour": 6, "minute": 0},
         timezone="America/New_York", catchup_window_seconds=0,
         prompt=TRICKY_PROMPTS[8])  # fmt: skip
    make(org_id, name="Cron fields", schedule_type="CRON",
         schedule_config={"minute": "*/15", "hour": "9-17", "day_of_week": "1-5"},
         session_config={"use_existing": True}, timeout_seconds=60,
         start_at="2026-03-05T00:00:00Z", end_at="2026-12-31T23:00:00+01:00")  # fmt: skip
    make(org_id, name="Cron seconds", schedule_type="CRON",
         schedule_config={"expression": "0 */30 * * * *"}, overlap_policy="allow")  # fmt: skip
    make(org_id, name="New year", schedule_type="ONCE",
         schedule_config={"execute_at": "2026-12-31 23:59:00"}, timezone="Asia/Tokyo")  # fmt: skip
    make(org_id, name="Paused", schedule_type="CRON", schedule_config={"expression": "@hourly"},
         enabled=False)  # fmt: skip


def test_export_then_import_into_an_empty_organization_gives_the_same_schedules(acme, globex):
    varied(acme)
    text = io.export_document(acme)
    plan = do_import(globex, text)
    assert [a.kind for a in plan.actions] == ["create"] * 7
    source, copy = schedules_of(acme), schedules_of(globex)
    assert sorted(source) == sorted(copy)
    for name, original in source.items():
        assert service.snapshot(copy[name]) == service.snapshot(original), name
        assert copy[name].next_run_at == original.next_run_at, name
        assert copy[name].managed_source == "schedules.yaml"
        assert original.managed_source is None
    assert copy["Paused"].next_run_at is None
    assert copy["Cron fields"].next_run_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    # And the copy exports to the very same document.
    assert io.export_document(globex) == text


def test_importing_the_same_file_again_changes_nothing(acme, globex):
    varied(acme)
    text = io.export_document(acme)
    do_import(globex, text)
    events = db.session.execute(db.select(db.func.count(AuditEvent.id))).scalar()
    plan = do_import(globex, text)
    assert {a.kind for a in plan.actions} == {"unchanged"} and not plan.changes_anything
    assert db.session.execute(db.select(db.func.count(AuditEvent.id))).scalar() == events


def test_next_run_times_match_after_time_has_passed_too(acme, globex):
    varied(acme)
    text = io.export_document(acme)
    with time_machine.travel(NOW + timedelta(minutes=7), tick=False):
        do_import(globex, text)
    for name, original in schedules_of(acme).items():
        assert schedules_of(globex)[name].next_run_at == original.next_run_at, name


# ---- reading the document


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: 1\nschedules: [\n", "invalid YAML at line 3, column 1"),
        ("version: 1\nschedules:\n  - name: x\n    prompt: *oops\n", "invalid YAML at line 4"),
        ("- just a list\n", "must be a mapping with 'version: 1'"),
        ("", "must be a mapping with 'version: 1'"),
        ("version: 1\n", "'schedules' is missing"),
        ("version: 1\nschedules:\n", "'schedules' must be a list"),
        ("version: 1\nschedules: {name: x}\n", "'schedules' must be a list"),
        (
            "version: 1\nschedules:\n  - name: a\n    prompt: x\n    prompt: y\n",
            "'prompt' is given twice (lines 4 and 5)",
        ),
    ],
)
def test_a_file_that_is_not_a_schedules_document_is_refused(acme, text, problem):
    with pytest.raises(io.DocumentError) as raised:
        io.read_document(text)
    assert problem in raised.value.problems[0]


def test_every_problem_of_every_entry_is_reported_with_entry_and_field(acme):
    text = (
        "version: 2\n"
        "owner: me\n"
        "schedules:\n"
        "  - name: Sales\n"
        "    prompt: '{{ broken'\n"
        "    schedule_type: DAILY\n"
        "    schedule_config: {hour: 25, minute: 0}\n"
        "    timezone: Mars/Olympus\n"
        "  - just text\n"
        "  - name: SALES\n"
        "    prompt: x\n"
        "    schedule_type: CRON\n"
        "    schedule_config: {expression: '0 0 30 2 *'}\n"
        "  - name: 2024\n"
        "    prompt: x\n"
        "    schedule_type: DAILY\n"
        "    schedule_config: {hour: 1, minute: 0}\n"
        "    colour: blue\n"
        "  - prompt: x\n"
        "    schedule_type: ONCE\n"
        "    timeout_seconds: 0\n"
        "    agent: nobody\n"
    )
    assert problems_of(acme, text) == [
        "version 2 is not supported (only 1)",
        "unknown top-level key 'owner' (expected: version, schedules)",
        "entry 1 (Sales): prompt: Template error on line 1: unexpected end of template, "
        "expected 'end of print statement'.",
        "entry 1 (Sales): timezone: Unknown time zone 'Mars/Olympus'.",
        "entry 1 (Sales): schedule_config.hour: Hour must be between 0 and 23.",
        "entry 2: must be a mapping of fields (name, ...)",
        "entry 3 (SALES): name: the same name as entry 1 (names are unique, ignoring case).",
        "entry 3 (SALES): schedule_config.expression: " + problems_of_cron(acme, "0 0 30 2 *"),
        "entry 4: name: must be text (put it in quotes).",
        "entry 4: colour: Unknown field.",
        "entry 5: name: Name is required.",
        "entry 5: agent: Agent 'nobody' not found.",
        "entry 5: timeout_seconds: Must be between 1 and 86,400.",
    ]
    assert schedules_of(acme) == {}


def problems_of_cron(org_id: int, expression: str) -> str:
    """The message the API gives for this expression (the import must say the same)."""
    with pytest.raises(ValidationFailed) as raised:
        service.validate(org_id, entry(schedule_type="CRON",
                                       schedule_config={"expression": expression}))  # fmt: skip
    [message] = raised.value.fields["schedule_config.expression"]
    return message


def test_problems_with_existing_schedules_are_reported_and_nothing_changes(acme):
    kept = make(acme, name="Kept", timeout_seconds=100)
    text = doc(
        entry("Kept", timeout_seconds=200),
        entry("New one"),
        entry("Broken", schedule_config={"hour": 8, "minute": 75}),
    )
    assert problems_of(acme, text) == ["entry 3 (Broken): schedule_config.minute: "
                                       "Minute must be between 0 and 59."]  # fmt: skip
    assert list(schedules_of(acme)) == ["Kept"]
    assert schedules_of(acme)["Kept"].timeout_seconds == 100 and kept.managed_source is None


# ---- planning: create, update with a diff, unchanged, delete


def test_the_plan_says_what_would_change_with_a_field_diff_and_changes_nothing(acme):
    make(acme, name="Same")
    make(acme, name="Edited", timeout_seconds=100, description="old words")
    do_import(acme, doc(entry("Same"), entry("Edited", timeout_seconds=100,
                                              description="old words")))  # fmt: skip
    text = doc(
        entry("Same"),
        entry("edited", schedule_config={"hour": 9, "minute": 0}, description="new words"),
        entry("Brand new"),
    )
    plan = io.plan_import(acme, io.read_document(text), "schedules.yaml", prune=False)
    assert io.plan_lines(plan) == [
        "unchanged Same",
        "update    Edited",
        '    name: "Edited" -> "edited"',
        '    description: "old words" -> "new words"',
        '    schedule_config: {"hour": 8, "minute": 0} -> {"hour": 9, "minute": 0}',
        "    timeout_seconds: 100 -> 300",
        "create    Brand new",
    ]
    assert sorted(schedules_of(acme)) == ["Edited", "Same"]
    assert schedules_of(acme)["Edited"].timeout_seconds == 100


def test_long_values_are_shortened_in_the_diff(acme):
    do_import(acme, doc(entry(prompt="x" * 500)))
    plan = io.plan_import(acme, io.read_document(doc(entry(prompt="y" * 500))), "s", False)
    [_, diff_line, _] = io.plan_lines(plan)
    assert diff_line.startswith('    prompt: "xxxx') and diff_line.endswith("…")
    assert len(diff_line) < 140


def test_a_field_left_out_of_the_file_returns_to_its_default(acme):
    do_import(acme, doc(entry(timeout_seconds=900, overlap_policy="allow")))
    do_import(acme, doc(entry()))
    schedule = schedules_of(acme)["Report"]
    assert (schedule.timeout_seconds, schedule.overlap_policy) == (300, "skip")


def test_an_edit_that_does_not_touch_timing_keeps_the_next_run(acme):
    do_import(acme, doc(entry()))
    before = schedules_of(acme)["Report"].next_run_at
    with time_machine.travel(NOW + timedelta(hours=30), tick=False):
        do_import(acme, doc(entry(prompt="Another prompt")))
    assert schedules_of(acme)["Report"].next_run_at == before
    with time_machine.travel(NOW + timedelta(hours=30), tick=False):
        do_import(acme, doc(entry(schedule_config={"hour": 9, "minute": 0})))
    assert schedules_of(acme)["Report"].next_run_at == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def test_import_takes_over_a_schedule_made_in_the_console_and_audits_it(acme):
    made = make(acme)
    plan = do_import(acme, doc(entry()))
    assert io.plan_lines(plan) == [
        "update    Report",
        '    managed_source: null -> "schedules.yaml"',
    ]
    assert schedules_of(acme)["Report"].managed_source == "schedules.yaml"
    event = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.object_id == made.id)
        .order_by(AuditEvent.id.desc())
    ).scalars().first()  # fmt: skip
    assert (event.action, event.changes) == (
        "schedule.update",
        {"managed_source": [None, "schedules.yaml"]},
    )


def test_a_completed_once_schedule_is_not_run_again_by_importing_its_file(acme):
    once = entry(
        "One-off", schedule_type="ONCE", schedule_config={"execute_at": "2026-03-03 09:00:00"}
    )
    do_import(acme, doc(once))
    schedule = schedules_of(acme)["One-off"]
    # What the engine does after the run (app/runs/engine.py `_complete_once`).
    schedule.enabled, schedule.next_run_at, schedule.completed_at = False, None, NOW
    db.session.commit()
    plan = do_import(acme, doc(once))
    assert [a.kind for a in plan.actions] == ["unchanged"]
    assert schedules_of(acme)["One-off"].completed_at == NOW
    # A new time in the file is a new one-off.
    once["schedule_config"] = {"execute_at": "2026-04-01 09:00:00"}
    do_import(acme, doc(once))
    schedule = schedules_of(acme)["One-off"]
    assert schedule.enabled and schedule.completed_at is None
    assert schedule.next_run_at == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


# ---- pruning


def test_prune_deletes_only_schedules_managed_from_this_file(acme):
    make(acme, name="Made in the console")
    do_import(acme, doc(entry("Theirs")), source="other.yaml")
    do_import(acme, doc(entry("Kept"), entry("Dropped")))
    text = doc(entry("Kept"))
    without = io.plan_import(acme, io.read_document(text), "schedules.yaml", prune=False)
    assert [a.kind for a in without.actions] == ["unchanged"]
    plan = io.plan_import(acme, io.read_document(text), "schedules.yaml", prune=True)
    assert io.plan_lines(plan) == ["unchanged Kept", "delete    Dropped"]
    assert plan.left_alone == 1  # "Theirs", managed from other.yaml
    dropped = schedules_of(acme)["Dropped"].id
    io.apply_plan(plan, None)
    assert sorted(schedules_of(acme)) == ["Kept", "Made in the console", "Theirs"]
    event = db.session.execute(
        db.select(AuditEvent).where(AuditEvent.action == "schedule.delete")
    ).scalar_one()
    assert (event.object_id, event.object_name) == (dropped, "Dropped")


def test_prune_with_an_empty_list_removes_every_schedule_of_the_file(acme):
    do_import(acme, doc(entry("A"), entry("B")))
    do_import(acme, "version: 1\nschedules: []\n", prune=True)
    assert schedules_of(acme) == {}


# ---- one transaction, and Redis follows


def test_the_import_is_all_or_nothing_when_a_name_is_taken_meanwhile(acme):
    do_import(acme, doc(entry("Existing")))
    text = doc(entry("Existing", timeout_seconds=42), entry("First new"), entry("Raced"))
    plan = io.plan_import(acme, io.read_document(text), "schedules.yaml", prune=False)
    make(acme, name="raced")  # someone else saves this name between the plan and the import
    with pytest.raises(ValidationFailed) as raised:
        io.apply_plan(plan, None)
    assert raised.value.fields == {"name": ["A schedule named 'Raced' already exists."]}
    schedules = schedules_of(acme)
    assert sorted(schedules) == ["Existing", "raced"]
    assert schedules["Existing"].timeout_seconds == 300


def test_imported_schedules_are_armed_and_pruned_ones_cancelled_in_redis(acme):
    do_import(acme, doc(entry("Armed"), entry("Pruned"), entry("Off", enabled=False)))
    ids = {name: s.id for name, s in schedules_of(acme).items()}
    fires = redis_client().zrange(bridge.fires_key(), 0, -1)
    assert sorted(fires) == sorted(bridge.fire_member(ids[n]).encode() for n in ("Armed", "Pruned"))
    do_import(acme, doc(entry("Armed"), entry("Off", enabled=False)), prune=True)
    assert redis_client().zrange(bridge.fires_key(), 0, -1) == [
        bridge.fire_member(ids["Armed"]).encode()
    ]
    do_import(acme, doc(entry("Armed", enabled=False), entry("Off", enabled=False)), prune=True)
    assert redis_client().zrange(bridge.fires_key(), 0, -1) == []


def test_the_document_lives_in_its_organization_only(acme, globex):
    do_import(acme, doc(entry("Shared name")))
    do_import(globex, doc(entry("Shared name", timeout_seconds=5)), prune=True)
    assert schedules_of(acme)["Shared name"].timeout_seconds == 300
    assert schedules_of(globex)["Shared name"].timeout_seconds == 5
    assert db.session.get(Organization, globex).name == "Globex"
