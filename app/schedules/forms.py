"""The schedule form. It renders fields and carries the CSRF token; the rules themselves are
app/schedules/service.py's, so the form, the API and `schedules import` can never disagree."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.models import Schedule
from app.schedules.service import DEFAULTS, RANGES


def _choices(*pairs: tuple[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


TYPES = _choices(("DAILY", "Daily"), ("WEEKLY", "Weekly"), ("MONTHLY", "Monthly"),
                 ("ONCE", "Once"), ("CRON", "Cron"))  # fmt: skip
DAYS = _choices(("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"),
                ("6", "Sat"), ("0", "Sun"))  # fmt: skip
MONTH_DAYS = _choices(*[(str(d), str(d)) for d in range(1, 32)], ("last", "Last day"))
OVERLAP = _choices(("skip", "Skip the new run"), ("queue_one", "Queue one run"),
                   ("allow", "Run both"))  # fmt: skip

# Where a message about a service field is shown in the form.
ERROR_FIELDS = {
    "schedule_config.execute_at": "execute_at",
    "schedule_config.hour": "at_time",
    "schedule_config.minute": "at_time",
    "schedule_config.day_of_week": "day_of_week",
    "schedule_config.day_of_month": "day_of_month",
    "schedule_config.expression": "expression",
    "schedule_config": "expression",
    "session_config": "use_existing",
}


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleForm(FlaskForm):
    name = StringField("Name")
    description = TextAreaField("Description")
    prompt = TextAreaField("Prompt")
    agent = SelectField("Agent", choices=[])
    schedule_type = SelectField("Repeats", choices=TYPES, default="DAILY")
    execute_at = StringField("Run at")
    at_time = StringField("Time", default="08:00")
    day_of_week = MultiCheckbox("Days", choices=DAYS, default=["1"])
    day_of_month = SelectField("Day of month", choices=MONTH_DAYS, default="1")
    expression = StringField("Cron expression", default="0 8 * * 1-5")
    timezone = StringField("Time zone", default="UTC")
    start_at = StringField("Not before")
    end_at = StringField("Not after")
    enabled = BooleanField("Enabled", default=True)
    use_existing = BooleanField("Continue one chat session across runs")
    timeout_seconds = IntegerField("Timeout (seconds)", default=DEFAULTS["timeout_seconds"])
    overlap_policy = SelectField("If the previous run is still going", choices=OVERLAP)
    catchup_window_seconds = IntegerField(
        "Catch-up window (seconds)", default=DEFAULTS["catchup_window_seconds"]
    )
    max_retries = IntegerField("Retries", default=DEFAULTS["max_retries"])
    retry_delay_seconds = IntegerField(
        "Retry delay (seconds)", default=DEFAULTS["retry_delay_seconds"]
    )

    def timing_data(self) -> dict[str, Any]:
        """The timing fields in the service's (and the API's) shape."""
        kind = self.schedule_type.data
        config: dict[str, Any] = {}
        hour, _, minute = (self.at_time.data or "").partition(":")
        at = {"hour": hour or None, "minute": minute or 0}
        if kind == "ONCE":
            if (self.execute_at.data or "").strip():
                config["execute_at"] = self.execute_at.data.strip().replace("T", " ")
        elif kind == "DAILY":
            config = at
        elif kind == "WEEKLY":
            config = {"day_of_week": [int(d) for d in self.day_of_week.data or []], **at}
        elif kind == "MONTHLY":
            day = self.day_of_month.data
            config = {"day_of_month": day if day == "last" else int(day), **at}
        elif kind == "CRON":
            config = {"expression": (self.expression.data or "").strip()}
        return {
            "schedule_type": kind,
            "schedule_config": config,
            "timezone": (self.timezone.data or "UTC").strip(),
            "start_at": (self.start_at.data or "").strip() or None,
            "end_at": (self.end_at.data or "").strip() or None,
        }

    def data_for_service(self) -> dict[str, Any]:
        raw = self.data
        data = {
            field: raw[field]
            for field in ("name", "description", "prompt", "agent", "enabled", "timeout_seconds",
                          "overlap_policy", "catchup_window_seconds", "max_retries",
                          "retry_delay_seconds")
        }  # fmt: skip
        # An empty number box reaches the service as "" and gets its clear message there.
        for field in RANGES:
            if data[field] is None:
                data[field] = self[field].raw_data[0] if self[field].raw_data else ""
        data["session_config"] = {"use_existing": bool(self.use_existing.data)}
        return {**data, **self.timing_data()}

    def show_errors(self, fields: dict[str, list[str]]) -> None:
        """Put the service's messages beside the fields they are about."""
        for key, messages in fields.items():
            field = getattr(self, ERROR_FIELDS.get(key, key), None)
            target = field if field is not None else self.name
            target.errors = [*(target.errors or []), *messages]

    def fill_from(self, schedule: Schedule) -> None:
        for field in ("name", "description", "prompt", "schedule_type", "timezone", "enabled",
                      "timeout_seconds", "overlap_policy", "catchup_window_seconds",
                      "max_retries", "retry_delay_seconds"):  # fmt: skip
            getattr(self, field).data = getattr(schedule, field)
        self.agent.data = schedule.agent_name
        self.use_existing.data = bool(schedule.session_config.get("use_existing"))
        config = schedule.schedule_config
        if "hour" in config:
            self.at_time.data = f"{int(config['hour']):02d}:{int(config.get('minute', 0)):02d}"
        if "execute_at" in config:
            self.execute_at.data = str(config["execute_at"])
        if "day_of_week" in config:
            days = config["day_of_week"]
            self.day_of_week.data = [str(d) for d in (days if isinstance(days, list) else [days])]
        if "day_of_month" in config:
            self.day_of_month.data = str(config["day_of_month"])
        if schedule.schedule_type == "CRON":
            keys = ["minute", "hour", "day_of_month", "month_of_year", "day_of_week"]
            if str(config.get("second", "0")) != "0":
                keys.insert(0, "second")  # 6 fields, seconds first
            self.expression.data = config.get("expression") or " ".join(
                str(config.get(k, "*")) for k in keys
            )
        for bound in ("start_at", "end_at"):
            value = getattr(schedule, bound)
            getattr(self, bound).data = value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""
