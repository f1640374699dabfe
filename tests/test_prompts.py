"""Prompt templates (SPEC §5.3): the variables in the schedule's zone, the sandbox, and
errors refused at save time or failing the run."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from app import prompts
from app.errors import ValidationFailed
from app.extensions import db
from app.models import ChatSession
from tests import agent_servers
from tests.agent_servers import fire_and_execute
from tests.engine_helpers import make_schedule

ctx = agent_servers.ctx  # fixture

EVERYTHING = (
    "{{ scheduled_for }}|{{ now }}|{{ today }}|{{ yesterday }}|{{ last_week }}|"
    "{{ last_month }}|{{ run_number }}|{{ schedule.name }}|{{ last_run.status }}"
)


def sent_prompt(run) -> str:
    """What the run sent: its user message without the label."""
    message = db.session.get(ChatSession, run.session_id).messages[0].content
    return message.split(" ", 1)[1]


def test_variables_are_in_the_schedules_zone_across_a_date_boundary(ctx, admin):
    # 15:30 UTC on 31 March is already 00:30 on 1 April in Tokyo: a new day, month and week.
    slot = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)
    sid = make_schedule(
        admin.id, admin.org_id, name="Tokyo report", prompt=EVERYTHING, timezone="Asia/Tokyo",
        schedule_config={"expression": "30 0 * * *"},
    )  # fmt: skip
    with time_machine.travel(datetime(2026, 3, 31, 15, 30, 2, 250_000, tzinfo=UTC), tick=False):
        first = fire_and_execute(sid, when=slot)
    assert sent_prompt(first).split("|") == [
        "2026-04-01T00:30:00+09:00",
        "2026-04-01T00:30:02+09:00",
        "2026-04-01",
        "2026-03-31",
        "2026-W13",  # 1 April 2026 is a Wednesday of week 14
        "2026-03",
        "1",
        "Tokyo report",
        "",  # no run before the first
    ]
    second = fire_and_execute(sid, when=datetime(2026, 4, 1, 15, 30, tzinfo=UTC))
    assert sent_prompt(second).split("|")[2:] == [
        "2026-04-02", "2026-04-01", "2026-W13", "2026-03", "2", "Tokyo report", "SUCCESS",
    ]  # fmt: skip


def test_the_same_slot_in_utc_is_still_the_day_before(ctx, admin):
    sid = make_schedule(admin.id, admin.org_id, prompt="{{ today }} {{ last_month }}")
    run = fire_and_execute(sid, when=datetime(2026, 3, 31, 15, 30, tzinfo=UTC))
    assert sent_prompt(run) == "2026-03-31 2026-02"


def test_week_and_month_arithmetic_at_year_ends():
    # ISO weeks: 1 January 2027 is a Friday of 2026's week 53.
    assert str(prompts.week_of(date(2027, 1, 1))) == "2026-W53"
    assert str(prompts.week_of(date(2026, 1, 5))) == "2026-W02"
    week = prompts.week_of(date(2027, 1, 1))
    assert (week.start, week.end) == (date(2026, 12, 28), date(2027, 1, 3))
    january = prompts.month_before(date(2026, 1, 15))
    assert (str(january), january.start, january.end) == (
        "2025-12", date(2025, 12, 1), date(2025, 12, 31)
    )  # fmt: skip
    assert prompts.month_before(date(2024, 3, 31)).end == date(2024, 2, 29)


def test_dates_and_times_keep_their_methods():
    values = prompts.variables(
        scheduled_for=datetime(2026, 7, 4, 6, 0, tzinfo=UTC), now=datetime(2026, 7, 4, tzinfo=UTC),
        timezone="America/New_York", schedule_name="x",
    )  # fmt: skip
    text = prompts.render(
        "{{ scheduled_for.strftime('%A %H:%M') }} {{ last_week.start }}..{{ last_week.end }}",
        values,
    )
    assert text == "Saturday 02:00 2026-06-22..2026-06-28"


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("Hi {{ name ", "Template error on line 1: unexpected end of template, expected "
                        "'end of print statement'."),
        ("{{ todya }}", "Unknown template variable: todya. Known: scheduled_for, now, today, "
                        "yesterday, last_week, last_month, run_number, schedule, last_run."),
        ("{% for x in y %}{{ z }}{% endfor %}", "Unknown template variables: y, z. Known: "
         "scheduled_for, now, today, yesterday, last_week, last_month, run_number, schedule, "
         "last_run."),
    ],
)  # fmt: skip
def test_errors_that_can_be_told_are_refused_when_the_schedule_is_saved(
    ctx, admin, prompt, message
):
    with pytest.raises(ValidationFailed) as refused:
        make_schedule(admin.id, admin.org_id, prompt=prompt)
    assert refused.value.fields == {"prompt": [message]}


def test_loop_variables_and_sets_are_not_unknown(ctx, admin):
    prompt = (
        "{% set n = run_number * 2 %}{% for d in [today, yesterday] %}{{ d }} {% endfor %}{{ n }}"
    )
    run = fire_and_execute(make_schedule(admin.id, admin.org_id, prompt=prompt))
    assert run.status == "SUCCESS"


@pytest.mark.parametrize(
    ("prompt", "error"),
    [
        ("{{ ''.__class__.__mro__ }}",
         "Prompt template error: access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ schedule.owner }}",
         "Prompt template error: 'app.prompts.ScheduleVars object' has no attribute 'owner'"),
        ("{{ run_number / 0 }}", "Prompt template error: ZeroDivisionError: division by zero"),
        ("{{ 'x' * 200000 }}", "The rendered prompt is longer than 100,000 characters"),
    ],
)  # fmt: skip
def test_errors_found_only_when_rendering_fail_the_run_with_the_message(ctx, admin, prompt, error):
    run = fire_and_execute(make_schedule(admin.id, admin.org_id, prompt=prompt))
    assert (run.status, run.reason, run.error) == ("FAILED", "template_error", error)
    assert run.session_id is None  # nothing was sent, so no session was started


def test_a_plain_prompt_is_sent_as_written(ctx, admin):
    prompt = "Summarise: 50% of {sales} and <b>html</b> & such"
    run = fire_and_execute(make_schedule(admin.id, admin.org_id, prompt=prompt))
    assert sent_prompt(run) == prompt
