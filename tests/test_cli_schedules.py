"""`flask schedules …` (SPEC §8): list, show, run, history, enable, disable, export, import —
the same data and rules as the API, errors on stderr with exit status 1 and nothing changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
import yaml

from app.extensions import db, redis_client
from app.models import AuditEvent, Organization, Run, Schedule
from app.runs import engine
from app.schedules import io, service
from app.scheduling import bridge
from tests.engine_helpers import execute
from tests.services import free_port

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday

DOCUMENT = """\
version: 1
schedules:
  - name: Sales summary
    prompt: |
      Summarise yesterday's sales ({{ yesterday }}).
    schedule_type: DAILY
    schedule_config: {hour: 8, minute: 0}
    timezone: Europe/Berlin
  - name: Queue check
    prompt: Check the queue.
    schedule_type: CRON
    schedule_config: {expression: "*/15 9-17 * * 1-5"}
    timeout_seconds: 60
"""


@pytest.fixture
def cli(app):
    """cli("list", "--org", "Acme") → click's Result, run at the frozen NOW."""
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None, env: dict | None = None, at=NOW):
        with time_machine.travel(at, tick=False):
            return runner.invoke(args=["schedules", *args], input=input, env=env)

    return invoke


@pytest.fixture
def make(app, admin):
    """make(name=…, **fields) → the id of a schedule of Acme, saved through the service."""

    def create(**fields) -> int:
        data = {
            "name": "Sales summary",
            "prompt": "Summarise yesterday",
            "schedule_type": "DAILY",
            "schedule_config": {"hour": 8, "minute": 0},
            **fields,
        }
        with app.app_context(), time_machine.travel(NOW, tick=False):
            return service.create_schedule(admin.org_id, None, data).id

    return create


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def failed(result) -> list[str]:
    """The error lines of a failed command (which printed nothing on stdout)."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    return result.stderr.splitlines()


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(db.select(db.func.count(model.id))).scalar()


def pending_fires(app) -> list[bytes]:
    with app.app_context():
        return redis_client().zrange(bridge.fires_key(), 0, -1)


def audit(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEvent).order_by(AuditEvent.id)).scalars()
        return [(e.actor, e.action, e.object_name) for e in rows]


# ---- the organization


def test_schedule_commands_need_an_organization_to_exist(cli, app):
    assert failed(cli("list")) == [
        "Error: There is no organization yet: create one with "
        "`flask --app wsgi users create EMAIL --password P --org NAME`."
    ]


def test_the_only_organization_is_used_without_org(cli, make):
    make()
    assert "Sales summary" in ok(cli("list"))


def test_with_several_organizations_org_is_required(cli, make, outsider):
    make()
    assert failed(cli("list")) == [
        "Error: There are several organizations (Acme, Globex): choose one with --org NAME."
    ]
    assert "Sales summary" in ok(cli("list", "--org", "Acme"))
    assert ok(cli("list", "--org", "Globex")) == "No schedules in Globex.\n"
    assert "Sales summary" in ok(cli("list", env={"TASKPLAN_ORG": "Acme"}))


def test_an_unknown_organization_is_refused_with_the_known_ones(cli, make, outsider):
    make()
    assert failed(cli("show", "Sales summary", "--org", "Initech")) == [
        "Error: Organization 'Initech' not found. Organizations: Acme, Globex."
    ]


# ---- list and show


def test_list_prints_name_type_status_next_and_last_run_run_count_and_marker(cli, app, make):
    sid = make(name="Sales summary", timezone="Europe/Berlin")
    make(name="Paused", schedule_type="CRON", schedule_config={"expression": "@hourly"},
         enabled=False)  # fmt: skip
    ok(cli("import", "-", "--source", "ops.yaml", input=DOCUMENT.split("  - name: Queue")[0]))
    with app.app_context(), time_machine.travel(NOW, tick=False):
        run = engine.run_now(db.session.get(Schedule, sid))
        execute(run.id)
    assert ok(cli("list")).splitlines() == [
        "NAME           TYPE   STATUS    NEXT RUN              LAST RUN              RUNS  MANAGED"
        " FROM",
        "Paused         CRON   Disabled  -                     -                     0     -",
        "Sales summary  DAILY  Enabled   2026-03-03T07:00:00Z  2026-03-02T10:00:00Z  1     ops."
        "yaml",
    ]  # fmt: skip


def test_list_json_gives_the_apis_fields_and_the_marker(cli, app, make, admin, token_for):
    make(name="B")
    make(name="A", schedule_type="ONCE", schedule_config={})
    listed = json.loads(ok(cli("list", "--json")))
    with time_machine.travel(NOW, tick=False):
        api = app.test_client().get("/api/v1/schedules", headers=token_for(admin)).get_json()
    assert [s["name"] for s in listed] == ["A", "B"]
    by_id = {s["id"]: s for s in api["items"]}
    for item in listed:
        assert item["managed_source"] is None
        assert item == by_id[item["id"]]


def test_list_says_when_there_are_no_schedules(cli, admin):
    assert ok(cli("list")) == "No schedules in Acme.\n"
    assert json.loads(ok(cli("list", "--json"))) == []


def test_show_prints_every_field_the_prompt_and_where_it_is_managed_from(cli, make):
    make(prompt="Line one\n  Line two\n", description="Daily numbers", timeout_seconds=90)
    out = ok(cli("show", "  sales   SUMMARY "))  # names match as they are unique: ignoring case
    lines = out.splitlines()
    assert lines[0] == "name:                   Sales summary"
    for line in [
        "status:                 Enabled",
        "description:            Daily numbers",
        'schedule_config:        {"hour": 8, "minute": 0}',
        "timing_description:     At 08:00 (UTC)",
        "next_run_at:            2026-03-03T08:00:00Z",
        "last_run_at:            -",
        "timeout_seconds:        90",
        "managed_source:         - (not managed from a file)",
    ]:
        assert line in lines
    assert out.endswith("prompt:\n  Line one\n    Line two\n")
    ok(cli("import", "-", "--source", "ops.yaml", input=DOCUMENT))
    assert "managed_source:         ops.yaml" in ok(cli("show", "Sales summary")).splitlines()


def test_show_json_is_the_apis_schedule_plus_the_marker(cli, app, make, admin, token_for):
    sid = make()
    shown = json.loads(ok(cli("show", "Sales summary", "--json")))
    with time_machine.travel(NOW, tick=False):
        api = app.test_client().get(f"/api/v1/schedules/{sid}", headers=token_for(admin))
    assert shown == {**api.get_json(), "managed_source": None}


@pytest.mark.parametrize("command", ["show", "run", "history", "enable", "disable"])
def test_an_unknown_schedule_name_fails_with_one_line(cli, app, make, command):
    make()
    events = count(app, AuditEvent)
    assert failed(cli(command, "Nope")) == ["Error: Schedule 'Nope' not found in Acme."]
    assert count(app, AuditEvent) == events and count(app, Run) == 0


# ---- run and history


def test_run_queues_a_manual_run_and_prints_its_id_and_status(cli, app, make):
    sid = make(enabled=False)
    out = ok(cli("run", "Sales summary"))
    with app.app_context():
        run = db.session.execute(db.select(Run)).scalar_one()
        schedule = db.session.get(Schedule, sid)
        assert out == f"Run {run.id} of 'Sales summary': PENDING\n"
        assert (run.trigger, run.status, run.scheduled_for) == ("manual", "PENDING", NOW)
        assert not schedule.enabled and schedule.next_run_at is None  # stays disabled
        job_id = bridge.run_job_id(run.id).encode()
        assert redis_client().lrange("rq:queue:taskplan", 0, -1) == [job_id]
    assert audit(app)[-1] == ("cli", "schedule.run", "Sales summary")


def test_run_refused_by_the_overlap_policy_exits_non_zero_with_the_reason(cli, app, make):
    make()
    ok(cli("run", "Sales summary"))
    assert failed(cli("run", "Sales summary")) == [
        "Error: A run of 'Sales summary' is already in progress, and its overlap policy (skip) "
        "does not start another. Try again when it has ended."
    ]
    assert count(app, Run) == 1


def test_run_under_queue_one_says_the_run_waits(cli, app, make):
    make(overlap_policy="queue_one")
    ok(cli("run", "Sales summary"))
    out = ok(cli("run", "Sales summary"))
    assert out.endswith(": PENDING (waits for the run in progress: queue_one)\n")


def test_changes_are_audited_as_an_admin_named_with_as(cli, app, make, admin, viewer):
    make()
    ok(cli("run", "Sales summary", "--as", "ADMIN@acme.test"))
    ok(cli("disable", "Sales summary", "--as", admin.email))
    assert audit(app)[-2:] == [
        (admin.email, "schedule.run", "Sales summary"),
        (admin.email, "schedule.disable", "Sales summary"),
    ]
    assert failed(cli("enable", "Sales summary", "--as", viewer.email)) == [
        "Error: viewer@acme.test is a viewer of Acme; only admins change schedules."
    ]
    assert failed(cli("run", "Sales summary", "--as", "ghost@acme.test")) == [
        "Error: User 'ghost@acme.test' not found."
    ]
    assert count(app, Run) == 1 and len(audit(app)) == 3


def test_history_lists_recent_runs_newest_first(cli, app, make):
    sid = make()
    with app.app_context(), time_machine.travel(NOW, tick=False):
        schedule = db.session.get(Schedule, sid)
        done = engine.run_now(schedule)
        execute(done.id)
        db.session.add(
            Run(schedule_id=sid, organization_id=schedule.organization_id, trigger="scheduled",
                scheduled_for=NOW + timedelta(hours=1), slot_at=NOW + timedelta(hours=1),
                status="FAILED", reason="agent_error", started_at=NOW + timedelta(hours=1),
                completed_at=NOW + timedelta(hours=1, seconds=1.5), duration_ms=1500,
                error="API rate limit exceeded\n(details)")
        )  # fmt: skip
        db.session.add(
            Run(schedule_id=sid, organization_id=schedule.organization_id, trigger="scheduled",
                scheduled_for=NOW + timedelta(hours=2), slot_at=NOW + timedelta(hours=2),
                status="MISSED", reason="scheduler_down", completed_at=NOW + timedelta(hours=3))
        )  # fmt: skip
        db.session.commit()
        duration = db.session.get(Run, done.id).duration_ms / 1000
    lines = [" ".join(line.split()) for line in ok(cli("history", "Sales summary")).splitlines()]
    assert lines == [
        "RUN TRIGGER STATUS SCHEDULED FOR STARTED DURATION ERROR",
        f"{done.id + 2} scheduled MISSED (scheduler_down) 2026-03-02T12:00:00Z - - -",
        f"{done.id + 1} scheduled FAILED (agent_error) 2026-03-02T11:00:00Z "
        "2026-03-02T11:00:00Z 1.500s API rate limit exceeded",
        f"{done.id} manual SUCCESS 2026-03-02T10:00:00Z 2026-03-02T10:00:00Z {duration:.3f}s -",
    ]
    newest = ok(cli("history", "Sales summary", "--limit", "1")).splitlines()
    assert len(newest) == 2 and "MISSED" in newest[1]


def test_history_json_is_the_apis_run_list(cli, app, make, admin, token_for):
    sid = make()
    ok(cli("run", "Sales summary"))
    shown = json.loads(ok(cli("history", "Sales summary", "--json")))
    api = app.test_client().get(f"/api/v1/schedules/{sid}/runs", headers=token_for(admin))
    assert shown == api.get_json()["items"] and len(shown) == 1


def test_history_of_a_schedule_without_runs_and_a_bad_limit(cli, make):
    make()
    assert ok(cli("history", "Sales summary")) == "No runs of 'Sales summary' yet.\n"
    result = cli("history", "Sales summary", "--limit", "0")
    assert result.exit_code != 0 and "--limit" in result.stderr


# ---- enable and disable


def test_disable_and_enable_follow_the_same_rules_as_the_console(cli, app, make):
    sid = make()
    with app.app_context():
        fire = bridge.fire_member(sid).encode()
    assert pending_fires(app) == [fire]
    assert ok(cli("disable", "sales summary")) == (
        "'Sales summary' disabled; history and settings are kept.\n"
    )
    assert pending_fires(app) == []
    assert ok(cli("disable", "Sales summary")) == "'Sales summary' is already disabled.\n"
    # Enabled three days later: the next run comes from now, no burst of the missed days.
    later = NOW + timedelta(days=3)
    assert ok(cli("enable", "Sales summary", at=later)) == (
        "'Sales summary' enabled; next run 2026-03-06T08:00:00Z.\n"
    )
    with app.app_context():
        assert db.session.get(Schedule, sid).next_run_at == datetime(2026, 3, 6, 8, tzinfo=UTC)
    assert pending_fires(app) == [fire]
    assert [a[:2] for a in audit(app)] == [
        ("system", "schedule.create"),
        ("cli", "schedule.disable"),
        ("cli", "schedule.enable"),
    ]


# ---- export and import


def test_export_prints_the_yaml_document(cli, app, make, admin):
    make(prompt="Two\nlines\n")
    out = ok(cli("export"))
    with app.app_context():
        assert out == io.export_document(admin.org_id)
    assert yaml.safe_load(out)["schedules"][0]["prompt"] == "Two\nlines\n"


def test_round_trip_export_then_import_into_an_empty_organization(cli, app, make, outsider,
                                                                  tmp_path):  # fmt: skip
    make(name="Sales summary", timezone="Europe/Berlin", description="For the team")
    make(name="Quarterly", schedule_type="CRON",
         schedule_config={"minute": "0", "hour": "6", "month_of_year": "*/3"},
         overlap_policy="allow", max_retries=2)  # fmt: skip
    make(name="Launch", schedule_type="ONCE", schedule_config={"execute_at": "2026-06-01 12:00"},
         timezone="Asia/Tokyo", enabled=False)  # fmt: skip
    path = tmp_path / "acme.yaml"
    path.write_text(ok(cli("export", "--org", "Acme")), encoding="utf-8")
    out = ok(cli("import", str(path), "--org", "Globex"))
    assert out.splitlines()[-1] == (
        f"Imported {path} into Globex: 3 created, 0 updated, 0 unchanged, 0 deleted."
    )
    acme = json.loads(ok(cli("list", "--json", "--org", "Acme")))
    globex = json.loads(ok(cli("list", "--json", "--org", "Globex")))
    differ = {"id", "created_at", "updated_at", "managed", "managed_source"}
    assert [{k: v for k, v in s.items() if k not in differ} for s in globex] == [
        {k: v for k, v in s.items() if k not in differ} for s in acme
    ]
    assert [s["next_run_at"] for s in globex] == [
        None,
        "2026-04-01T06:00:00Z",
        "2026-03-03T07:00:00Z",
    ]
    assert {s["managed_source"] for s in globex} == {"acme.yaml"}
    assert ok(cli("export", "--org", "Globex")) == path.read_text(encoding="utf-8")


def test_import_dry_run_prints_the_plan_and_changes_nothing(cli, app, make, tmp_path):
    make(name="Queue check", prompt="Old prompt", schedule_type="CRON",
         schedule_config={"expression": "*/15 9-17 * * 1-5"}, timeout_seconds=60)  # fmt: skip
    path = tmp_path / "schedules.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    events = count(app, AuditEvent)
    out = ok(cli("import", str(path), "--dry-run"))
    assert out.splitlines() == [
        "create    Sales summary",
        "update    Queue check",
        '    prompt: "Old prompt" -> "Check the queue."',
        '    managed_source: null -> "schedules.yaml"',
        "Dry run: 1 to create, 1 to update, 0 unchanged, 0 to delete in Acme. Nothing was changed.",
    ]
    assert count(app, Schedule) == 1 and count(app, AuditEvent) == events
    with app.app_context():
        assert db.session.execute(db.select(Schedule.prompt)).scalar() == "Old prompt"


def test_import_applies_the_file_and_a_second_import_has_nothing_to_do(cli, app, tmp_path, admin):
    path = tmp_path / "schedules.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    out = ok(cli("import", str(path)))
    assert out.splitlines() == [
        "create    Sales summary",
        "create    Queue check",
        f"Imported {path} into Acme: 2 created, 0 updated, 0 unchanged, 0 deleted.",
    ]
    assert audit(app) == [
        ("cli", "schedule.create", "Sales summary"),
        ("cli", "schedule.create", "Queue check"),
    ]
    with app.app_context():
        schedules = db.session.execute(db.select(Schedule).order_by(Schedule.id)).scalars().all()
        assert [s.managed_source for s in schedules] == ["schedules.yaml"] * 2
        assert schedules[0].next_run_at == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
        assert schedules[1].next_run_at == datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
        assert schedules[0].created_by_id is None
    assert ok(cli("import", str(path))).splitlines()[-1] == (
        f"Acme already matches {path}: nothing to change."
    )


def test_import_with_prune_deletes_this_files_schedules_that_it_no_longer_lists(
    cli, app, make, tmp_path
):
    make(name="Made in the console")
    path = tmp_path / "schedules.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    ok(cli("import", str(path)))
    theirs = "version: 1\nschedules:\n  - {name: Theirs, prompt: x, schedule_type: ONCE}\n"
    ok(cli("import", "-", "--source", "other.yaml", input=theirs))
    path.write_text(DOCUMENT.split("  - name: Queue check")[0], encoding="utf-8")
    out = ok(cli("import", str(path), "--prune", "--dry-run"))
    assert out.splitlines()[:2] == ["unchanged Sales summary", "delete    Queue check"]
    assert "Note: 1 schedule(s) managed from another source" in out
    assert count(app, Schedule) == 4
    out = ok(cli("import", str(path), "--prune", "--as", "admin@acme.test"))
    assert out.splitlines()[-1].endswith("0 created, 0 updated, 1 unchanged, 1 deleted.")
    with app.app_context():
        names = db.session.execute(db.select(Schedule.name).order_by(Schedule.name)).scalars()
        assert list(names) == ["Made in the console", "Sales summary", "Theirs"]
    assert audit(app)[-1] == ("admin@acme.test", "schedule.delete", "Queue check")


def test_an_invalid_file_is_refused_with_every_problem_and_nothing_changes(cli, app, make,
                                                                           tmp_path):  # fmt: skip
    make(name="Queue check", timeout_seconds=60, schedule_type="CRON", prompt="Check the queue.",
         schedule_config={"expression": "*/15 9-17 * * 1-5"})  # fmt: skip
    path = tmp_path / "bad.yaml"
    path.write_text(
        DOCUMENT.replace("timeout_seconds: 60", "timeout_seconds: 0")
        .replace("hour: 8", "hour: 24")
        .replace("Europe/Berlin", "Europe/Atlantis"),
        encoding="utf-8",
    )
    events = count(app, AuditEvent)
    for extra in ([], ["--dry-run"], ["--prune"]):
        assert failed(cli("import", str(path), *extra)) == [
            f"Error: {path}: entry 1 (Sales summary): timezone: Unknown time zone "
            "'Europe/Atlantis'.",
            f"Error: {path}: entry 1 (Sales summary): schedule_config.hour: Hour must be "
            "between 0 and 23.",
            f"Error: {path}: entry 2 (Queue check): timeout_seconds: Must be between 1 and 86,400.",
            "Error: Nothing was imported (3 problems).",
        ]
    assert count(app, Schedule) == 1 and count(app, AuditEvent) == events
    with app.app_context():
        assert db.session.execute(db.select(Schedule.timeout_seconds)).scalar() == 60


def test_a_file_that_is_not_yaml_or_not_there_is_refused(cli, app, admin, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nschedules:\n  - name: [unclosed\n", encoding="utf-8")
    [problem, summary] = failed(cli("import", str(path)))
    assert problem.startswith(f"Error: {path}: invalid YAML at line 4, column 1: ")
    assert summary == "Error: Nothing was imported (1 problem)."
    assert failed(cli("import", str(tmp_path / "missing.yaml"))) == [
        f"Error: {tmp_path / 'missing.yaml'}: no such file."
    ]
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9".encode("latin-1"))
    assert failed(cli("import", str(tmp_path / "latin1.yaml"))) == [
        f"Error: {tmp_path / 'latin1.yaml'}: not UTF-8 text."
    ]
    assert failed(cli("import", "-", input="[1, 2]")) == [
        "Error: stdin: the document must be a mapping with 'version: 1' and a 'schedules' list",
        "Error: Nothing was imported (1 problem).",
    ]
    assert failed(cli("import", "-", "--source", " ", input=DOCUMENT)) == [
        "Error: --source must be 1 to 500 characters."
    ]
    assert count(app, Schedule) == 0


def test_import_as_a_viewer_is_refused_before_anything_changes(cli, app, viewer, tmp_path):
    path = tmp_path / "schedules.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    assert failed(cli("import", str(path), "--as", viewer.email)) == [
        "Error: viewer@acme.test is a viewer of Acme; only admins change schedules."
    ]
    assert count(app, Schedule) == 0


def test_import_leaves_other_organizations_alone(cli, app, make, outsider, tmp_path):
    make(name="Sales summary", timeout_seconds=7)
    path = tmp_path / "schedules.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    ok(cli("import", str(path), "--org", "Globex", "--prune"))
    with app.app_context():
        acme = db.session.execute(
            db.select(Schedule).join(Organization).where(Organization.name == "Acme")
        ).scalar_one()
        assert acme.timeout_seconds == 7 and acme.managed_source is None


def test_schedules_imported_as_an_admin_run_on_their_behalf(cli, app, admin, tmp_path):
    path = tmp_path / "schedules.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    ok(cli("import", str(path), "--as", admin.email))
    with app.app_context():
        creators = db.session.execute(db.select(Schedule.created_by_id)).scalars().all()
        assert creators == [admin.id, admin.id]
    assert [a[0] for a in audit(app)] == [admin.email, admin.email]


def test_run_without_redis_records_the_run_for_the_scheduler_to_queue(
    app, make, make_app, database_url
):
    make()
    dead = make_app(database_url, f"redis://127.0.0.1:{free_port()}/0")
    with time_machine.travel(NOW, tick=False):
        result = dead.test_cli_runner().invoke(args=["schedules", "run", "Sales summary"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        run = db.session.execute(db.select(Run)).scalar_one()
    assert result.stdout == f"Run {run.id} of 'Sales summary': PENDING\n"
    assert result.stderr.startswith("Warning: Redis did not answer (")
    assert result.stderr.endswith("the run is queued later.\n")
