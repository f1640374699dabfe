"""Cron field parsing for the timing engine (pure: no I/O, no Flask).

Turns cron field text into sorted tuples of allowed values once, so the search in
``timing.py`` can jump with ``bisect`` instead of stepping through time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Field order inside a 6-field expression (seconds first, as SPEC §2 says).
FIELD_NAMES = ("second", "minute", "hour", "day_of_month", "month_of_year", "day_of_week")

# name -> (label used in messages, low, high)
FIELD_BOUNDS = {
    "second": ("Second", 0, 59),
    "minute": ("Minute", 0, 59),
    "hour": ("Hour", 0, 23),
    "day_of_month": ("Day of month", 1, 31),
    "month_of_year": ("Month", 1, 12),
    "day_of_week": ("Day of week", 0, 7),
}

MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
DOW_NAMES = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_NAMES = {"month_of_year": MONTH_NAMES, "day_of_week": DOW_NAMES}

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# The longest month each month can have (February: 29, in leap years).
_MAX_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_TERM = re.compile(r"^(?P<base>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>[a-z0-9]*))?$")


class CronFieldError(ValueError):
    """One field of a cron expression is malformed; the message is user-facing."""


@dataclass(frozen=True)
class CronFields:
    """The expanded fields of one cron expression (Vixie semantics)."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: tuple[int, ...]
    days_of_week: frozenset[int]  # 0 = Sunday … 6 = Saturday (7 folded into 0)
    dom_star: bool  # the day-of-month text starts with "*": not restricted (Vixie)
    dow_star: bool
    hour_is_cadence: bool  # hour is "*" or a step: keeps real-time cadence over DST

    @property
    def days_or(self) -> bool:
        """Vixie: both day fields restricted -> a day matching EITHER fires."""
        return not self.dom_star and not self.dow_star

    def can_fire(self) -> bool:
        """Whether some date matches at all, decided without searching.

        With OR semantics every month has every weekday, so it always fires. Otherwise a
        date needs an allowed (month, day of month) pair; Feb 29 counts, and every such
        pair falls on every weekday somewhere in the 400-year Gregorian cycle, so the
        weekday set (never empty) cannot rule a pair out.
        """
        if self.days_or:
            return True
        return any(
            day <= _MAX_MONTH_DAYS[month] for month in self.months for day in self.days_of_month
        )


def _value(text: str, field: str) -> int:
    label, low, high = FIELD_BOUNDS[field]
    names = _NAMES.get(field, {})
    if text in names:
        return names[text]
    if not text.isdigit():
        if names:
            kind = "month" if field == "month_of_year" else "day"
            raise CronFieldError(
                f"{label} must be a number between {low} and {high} or a {kind} name "
                f"like '{next(iter(names))}'; '{text}' is neither."
            )
        raise CronFieldError(f"{label} must be a number between {low} and {high}; got '{text}'.")
    number = int(text)
    if not low <= number <= high:
        raise CronFieldError(range_message(field))
    return number


def range_message(field: str) -> str:
    label, low, high = FIELD_BOUNDS[field]
    if field == "day_of_week":
        return f"{label} must be between {low} and {high} (0 and 7 are Sunday)."
    return f"{label} must be between {low} and {high}."


def parse_field(text: str, field: str) -> tuple[int, ...]:
    """Expand one field ("*/15", "mon-fri", "1,15", "5/10", …) into sorted values."""
    label, low, high = FIELD_BOUNDS[field]
    text = text.strip().lower()
    if not text:
        raise CronFieldError(f"{label} is empty; use '*' for every value.")
    values: set[int] = set()
    for term in text.split(","):
        match = _TERM.match(term)
        if not match:
            raise CronFieldError(f"{label} has an invalid part '{term}'.")
        base, step_text = match.group("base"), match.group("step")
        # For day of week, "*" and "a/n" run to Saturday (6): 7 is only an alias of Sunday.
        open_end = 6 if field == "day_of_week" else high
        if base == "*":
            first, last = low, open_end
        elif "-" in base:
            start_text, end_text = base.split("-")
            first, last = _value(start_text, field), _value(end_text, field)
            if first > last:
                raise CronFieldError(
                    f"{label} range '{base}' goes backwards; write the smaller value first."
                )
        else:
            first = _value(base, field)
            # "a/n" means from a to the end of the field in steps of n (Vixie, croniter).
            last = open_end if step_text is not None else first
        step = 1
        if step_text is not None:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronFieldError(
                    f"{label} step in '{term}' must be a whole number of 1 or more."
                )
            step = int(step_text)
        values.update(range(first, last + 1, step))
    if field == "day_of_week":
        values = {value % 7 for value in values}
    return tuple(sorted(values))


def split_expression(expression: str) -> list[str]:
    """Fields of an expression in 6-field order (second first); macros expanded.

    Raises CronFieldError with the user-facing message when the shape is wrong.
    """
    text = " ".join(expression.split())
    if not text:
        raise CronFieldError("The cron expression is empty.")
    if text.startswith("@"):
        macro = text.lower()
        if macro == "@reboot":
            raise CronFieldError("@reboot is not supported: a schedule needs a time.")
        if macro not in MACROS:
            known = " ".join(MACROS)
            raise CronFieldError(f"Unknown cron shortcut '{text}'; use one of {known}.")
        text = MACROS[macro]
    parts = text.split(" ")
    if len(parts) == 5:
        return ["0", *parts]
    if len(parts) == 6:
        return parts
    raise CronFieldError(
        f"A cron expression has 5 fields (or 6 with seconds first); this one has {len(parts)}."
    )


def compile_fields(texts: dict[str, str]) -> tuple[CronFields | None, dict[str, str]]:
    """Expand all six fields; return (fields, {field name: message}) collecting every error."""
    expanded: dict[str, tuple[int, ...]] = {}
    errors: dict[str, str] = {}
    for name in FIELD_NAMES:
        try:
            expanded[name] = parse_field(texts[name], name)
        except CronFieldError as exc:
            errors[name] = str(exc)
    if errors:
        return None, errors
    hour_text = texts["hour"].strip()
    return (
        CronFields(
            seconds=expanded["second"],
            minutes=expanded["minute"],
            hours=expanded["hour"],
            days_of_month=frozenset(expanded["day_of_month"]),
            months=expanded["month_of_year"],
            days_of_week=frozenset(expanded["day_of_week"]),
            dom_star=texts["day_of_month"].strip().startswith("*"),
            dow_star=texts["day_of_week"].strip().startswith("*"),
            hour_is_cadence=hour_text == "*" or "/" in hour_text,
        ),
        {},
    )
