"""When a schedule fires: validation, next slots, DST rules, descriptions (SPEC §2).

Pure: imports nothing from Flask or the app and does no I/O (apart from the zone data and
cron-descriptor's message catalogue, both read once and cached).

How a slot is found
-------------------
Every schedule type compiles to one plan: sorted tuples of allowed seconds, minutes,
hours and months plus a day rule. ``_next_wall`` finds the next matching *wall-clock*
time by jumping field by field with ``bisect``. That wall time is then turned into an
instant in the schedule's zone with the DST rules of SPEC §2:

* a wall time inside a spring-forward gap fires once, at the transition instant (the
  first instant after the gap) -- unless the plan keeps real-time cadence, in which case
  it simply does not exist;
* a wall time that occurs twice fires at its first occurrence -- unless the plan keeps
  real-time cadence, in which case both occurrences fire.

A plan keeps real-time cadence when its hour field is ``*`` or contains a step (``/``).
"""

from __future__ import annotations

import calendar
import json
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.scheduling.cron import (
    FIELD_BOUNDS,
    FIELD_NAMES,
    CronFieldError,
    CronFields,
    compile_fields,
    range_message,
    split_expression,
)

SCHEDULE_TYPES = ("ONCE", "DAILY", "WEEKLY", "MONTHLY", "CRON")

# How far ahead one search may look. The rarest valid expressions ("0 0 29 2 sun": a
# Feb 29 that is a Sunday) recur up to 40 years apart; the search jumps a month or a year
# at a time, so even this costs only ~100 loop turns. Beyond it next_after gives None.
SEARCH_HORIZON_YEARS = 50

_SECOND = timedelta(seconds=1)
_TICK = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_RANGES = {n: tuple(range(1, n + 1)) for n in (28, 29, 30, 31)}
_CRON_KEYS = FIELD_NAMES  # second, minute, hour, day_of_month, month_of_year, day_of_week
_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


class TimingError(ValueError):
    """Validation failure. ``fields`` maps a field key to one clear message per problem."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in fields.items()))


# --------------------------------------------------------------------------- zones


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset(zone: tzinfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _transition(zone: tzinfo, before: datetime, after: datetime) -> datetime:
    """The first instant in (before, after] whose UTC offset differs from before's.

    Callers pass a window of at most a few hours around one known transition, so the
    bisection takes ~14 steps; it only runs for slots next to a DST change.
    """
    old = _offset(zone, before)
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, before + timedelta(seconds=middle)) == old:
            low = middle
        else:
            high = middle
    return before + timedelta(seconds=high)


def _wall_to_utc(zone: tzinfo, wall: datetime) -> datetime:
    """A naive wall time in ``zone`` as a UTC instant, with the fixed-time DST rules.

    Converted at once so nothing downstream handles local times: a time in a gap becomes
    the first instant after the gap, a repeated time its first occurrence.
    """
    early = wall.replace(tzinfo=zone, fold=0).utcoffset()
    late = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert early is not None and late is not None
    if early < late:  # spring-forward gap
        return _transition(
            zone, (wall - late).replace(tzinfo=UTC), (wall - early).replace(tzinfo=UTC)
        )
    return (wall - early).replace(tzinfo=UTC)


# --------------------------------------------------------------------------- the plan


@lru_cache(maxsize=1 << 16)
def _allowed_days(rule: tuple, year: int, month: int) -> tuple[int, ...]:
    """Days of ``month`` the day rule allows (shared across schedules by an LRU cache)."""
    length = calendar.monthrange(year, month)[1]
    kind = rule[0]
    if kind == "all":
        return _DAY_RANGES[length]
    if kind == "clamp":  # MONTHLY: a day the month lacks runs on its last day; 0 = "last"
        day = rule[1]
        return (min(day, length) if day else length,)
    _, days_of_month, days_of_week, either = rule
    sunday_based_first = (calendar.weekday(year, month, 1) + 1) % 7
    if either:
        return tuple(
            day
            for day in range(1, length + 1)
            if day in days_of_month or (sunday_based_first + day - 1) % 7 in days_of_week
        )
    return tuple(
        day
        for day in range(1, length + 1)
        if day in days_of_month and (sunday_based_first + day - 1) % 7 in days_of_week
    )


@dataclass(frozen=True)
class _Plan:
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    month_set: frozenset[int]
    day_rule: tuple
    cadence: bool  # hour is "*" or a step: real-time cadence through DST

    @classmethod
    def from_cron(cls, fields: CronFields) -> _Plan:
        full_dom = fields.days_of_month == frozenset(range(1, 32))
        full_dow = fields.days_of_week == frozenset(range(7))
        if fields.days_or:
            rule: tuple = ("cron", fields.days_of_month, fields.days_of_week, True)
        elif full_dom and full_dow:
            rule = ("all",)
        else:
            rule = ("cron", fields.days_of_month, fields.days_of_week, False)
        return cls(
            seconds=fields.seconds,
            minutes=fields.minutes,
            hours=fields.hours,
            months=fields.months,
            month_set=frozenset(fields.months),
            day_rule=rule,
            cadence=fields.hour_is_cadence,
        )

    def next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall time at or after ``wall`` (naive, whole seconds)."""
        year, month, day = wall.year, wall.month, wall.day
        hour, minute, second = wall.hour, wall.minute, wall.second
        last_year = min(year + SEARCH_HORIZON_YEARS, 9999)
        seconds, minutes, hours, months = self.seconds, self.minutes, self.hours, self.months
        while year <= last_year:
            if month not in self.month_set:
                index = bisect_left(months, month)
                if index == len(months):
                    year, month = year + 1, months[0]
                else:
                    month = months[index]
                day, hour, minute, second = 1, 0, 0, 0
                continue
            days = _allowed_days(self.day_rule, year, month)
            index = bisect_left(days, day)
            if index == len(days):
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                day, hour, minute, second = 1, 0, 0, 0
                continue
            if days[index] != day:
                day, hour, minute, second = days[index], 0, 0, 0
            index = bisect_left(hours, hour)
            if index == len(hours):
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if hours[index] != hour:
                hour, minute, second = hours[index], 0, 0
            index = bisect_left(minutes, minute)
            if index == len(minutes):
                hour, minute, second = hour + 1, 0, 0
                continue
            if minutes[index] != minute:
                minute, second = minutes[index], 0
            index = bisect_left(seconds, second)
            if index == len(seconds):
                minute, second = minute + 1, 0
                continue
            return datetime(year, month, day, hour, minute, seconds[index])  # noqa: DTZ001
        return None

    def next_instant(self, zone: tzinfo, after: datetime) -> datetime | None:
        """The smallest slot strictly after the UTC instant ``after`` (no bounds applied)."""
        local = after.astimezone(zone)
        wall = local.replace(tzinfo=None, microsecond=0, fold=0)
        early = zone.utcoffset(wall)
        late = zone.utcoffset(wall.replace(fold=1))
        assert early is not None and late is not None
        start = wall + _SECOND
        repeat: datetime | None = None
        if early > late:
            # `after` lies in a fall-back overlap [repeat_start, repeat_end) of wall time:
            # wall times there happened once at offset `early`, then again at `late`.
            shift = _transition(
                zone, (wall - early).replace(tzinfo=UTC), (wall - late).replace(tzinfo=UTC)
            )
            repeat_start = (shift + late).replace(tzinfo=None)
            repeat_end = (shift + early).replace(tzinfo=None)
            if local.fold:
                # Second pass through the overlap: fixed-time plans already fired these
                # wall times; cadence plans fire them again, at their second occurrence.
                if self.cadence:
                    candidate = self.next_wall(start)
                    if candidate is not None and candidate < repeat_end:
                        return (candidate - late).replace(tzinfo=UTC)
                start = max(start, repeat_end)
            elif self.cadence:
                candidate = self.next_wall(repeat_start)
                if candidate is not None and candidate < repeat_end:
                    repeat = (candidate - late).replace(tzinfo=UTC)
        first = self._first_occurrence_from(zone, start)
        if repeat is not None and (first is None or repeat < first):
            return repeat
        return first

    def _first_occurrence_from(self, zone: tzinfo, start: datetime) -> datetime | None:
        for _ in range(4 * SEARCH_HORIZON_YEARS):  # a zone has at most a few gaps a year
            wall = self.next_wall(start)
            if wall is None:
                return None
            early = zone.utcoffset(wall)
            late = zone.utcoffset(wall.replace(fold=1))
            assert early is not None and late is not None
            if early >= late:  # ordinary, or repeated: its first occurrence
                return (wall - early).replace(tzinfo=UTC)
            # A spring-forward gap: this wall time never happens.
            shift = _transition(
                zone, (wall - late).replace(tzinfo=UTC), (wall - early).replace(tzinfo=UTC)
            )
            if not self.cadence:
                return shift
            start = (shift + late).replace(tzinfo=None)  # go on from the end of the gap
        return None


# --------------------------------------------------------------------------- Timing


@dataclass(frozen=True)
class _Compiled:
    zone: ZoneInfo
    plan: _Plan | None  # None for ONCE
    once_at: datetime | None  # ONCE: execute_at as an aware UTC instant
    cron_text: str | None  # the expression cron-descriptor describes
    suffix: str  # extra words for the description (MONTHLY 29-31)
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Timing:
    """A validated schedule timing. Build it with :func:`build_timing`."""

    schedule_type: str
    config: dict
    timezone: str
    start_at: datetime | None = None
    end_at: datetime | None = None
    _compiled: _Compiled | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._compiled is None:  # constructed directly: validate like build_timing
            built = build_timing(
                self.schedule_type, self.config, self.timezone, self.start_at, self.end_at
            )
            object.__setattr__(self, "_compiled", built._compiled)

    @property
    def _c(self) -> _Compiled:
        assert self._compiled is not None
        return self._compiled

    # ---- slots

    def next_after(self, after: datetime) -> datetime | None:
        """The smallest slot strictly after ``after``, within start_at/end_at, in UTC."""
        after = _aware_utc(after)
        compiled = self._c
        if compiled.plan is None:
            slot = self._once_slot()
            return slot if slot is not None and slot > after else None
        if self.start_at is not None and after < self.start_at:
            after = self.start_at - _TICK  # start_at is inclusive
        try:
            slot = compiled.plan.next_instant(compiled.zone, after)
        except OverflowError:  # the search ran past year 9999
            return None
        if slot is None or (self.end_at is not None and slot > self.end_at):
            return None
        return slot

    def initial_slot(self, now: datetime) -> datetime | None:
        """The first slot for a schedule saved or enabled at ``now``.

        Recurring types: the first slot after ``now``. ONCE: ``execute_at`` if it is still
        ahead, else ``now`` itself (runs immediately); never before start_at (it waits for
        start_at) and never after end_at (then None).
        """
        now = _aware_utc(now)
        if self._c.plan is not None:
            return self.next_after(now)
        once_at = self._c.once_at
        slot = once_at if once_at is not None and once_at > now else now
        if self.start_at is not None and slot < self.start_at:
            slot = self.start_at
        if self.end_at is not None and slot > self.end_at:
            return None
        return slot

    def next_slots(self, after: datetime, count: int) -> list[datetime]:
        slots: list[datetime] = []
        slot = self.next_after(after)
        while slot is not None and len(slots) < count:
            slots.append(slot)
            slot = self.next_after(slot)
        return slots

    def slots_between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """Slots s with after < s <= until, at most ``limit`` (earliest first)."""
        until = _aware_utc(until)
        slots: list[datetime] = []
        slot = self.next_after(after)
        while slot is not None and slot <= until and len(slots) < limit:
            slots.append(slot)
            slot = self.next_after(slot)
        return slots

    def _once_slot(self) -> datetime | None:
        once_at = self._c.once_at
        if once_at is None:
            return None
        if self.start_at is not None and once_at < self.start_at:
            once_at = self.start_at
        if self.end_at is not None and once_at > self.end_at:
            return None
        return once_at

    # ---- words

    def describe(self) -> str:
        compiled = self._c
        if self.schedule_type == "ONCE":
            if compiled.once_at is None:
                text = "Once, immediately when saved"
            else:
                text = f"Once at {_local_text(compiled.once_at, compiled.zone)} ({self.timezone})"
        else:
            assert compiled.cron_text is not None
            text = f"{_cron_description(compiled.cron_text)}{compiled.suffix} ({self.timezone})"
        if self.start_at is not None:
            text += f", from {_local_text(self.start_at, compiled.zone)}"
        if self.end_at is not None:
            text += f", until {_local_text(self.end_at, compiled.zone)}"
        return text

    @property
    def warnings(self) -> list[str]:
        return list(self._c.warnings)


def _aware_utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError("Expected a timezone-aware datetime.")
    return moment.astimezone(UTC)


def _local_text(instant: datetime, zone: tzinfo) -> str:
    local = instant.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")


@lru_cache(maxsize=4096)
def _cron_description(expression: str) -> str:
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options(use_24hour_time_format=True, locale_code="en_US")
    try:
        text = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # a describer gap must never break a valid schedule's page
        return f"Cron '{expression}'"
    parts = expression.split()
    dom, dow = parts[-3], parts[-1]
    if dom.startswith("*") and dom != "*" and not dow.startswith("*"):
        # Vixie: "*/2" does not count as restricted, so the day fields are ANDed here;
        # cron-descriptor always says "or on" once day of month is not a bare "*".
        text = text.replace(", or on ", ", but only on ")
    return text


# --------------------------------------------------------------------------- building


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.fields.setdefault(key, []).append(message)


@lru_cache(maxsize=16_384)
def _stored_timing(schedule_type: str, config_json: str, timezone: str, start_at, end_at) -> Timing:
    return build_timing(schedule_type, json.loads(config_json), timezone, start_at, end_at)


def stored_timing(
    schedule_type: str,
    schedule_config: dict | None,
    timezone: str,
    start_at: datetime | None,
    end_at: datetime | None,
) -> Timing:
    """build_timing of a stored schedule's fields, cached by value: the scheduler asks for
    the same schedule's timing at every fire, and validating and compiling it again costs
    more than the fire's next-slot search. The Timing is shared: do not modify it."""
    config_json = json.dumps(schedule_config, sort_keys=True)
    return _stored_timing(schedule_type, config_json, timezone, start_at, end_at)


def build_timing(
    schedule_type: str,
    schedule_config: dict | None,
    timezone: str = "UTC",
    start_at: datetime | str | None = None,
    end_at: datetime | str | None = None,
) -> Timing:
    """Validate everything and return a Timing, or raise TimingError listing every problem.

    ``start_at``/``end_at`` strings are ISO 8601; naive ones are wall times in ``timezone``.
    """
    errors = _Errors()

    kind = schedule_type.strip().upper() if isinstance(schedule_type, str) else None
    if kind not in SCHEDULE_TYPES:
        errors.add("schedule_type", f"Schedule type must be one of {', '.join(SCHEDULE_TYPES)}.")

    zone_name = "UTC" if timezone is None or timezone == "" else timezone
    zone: ZoneInfo | None = None
    if not isinstance(zone_name, str):
        errors.add("timezone", "Time zone must be an IANA name such as 'Europe/Berlin'.")
    else:
        zone_name = zone_name.strip()
        try:
            zone = _zone(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            errors.add("timezone", f"Unknown time zone '{zone_name}'.")

    start = _parse_bound(start_at, "start_at", zone, errors)
    end = _parse_bound(end_at, "end_at", zone, errors)
    if start is not None and end is not None and end <= start:
        errors.add("end_at", "end_at must be after start_at.")

    config: dict | None = None
    compiled_parts: _Parts = ()
    if schedule_config is None:
        schedule_config = {}
    if not isinstance(schedule_config, dict):
        errors.add("schedule_config", "The schedule settings must be a JSON object.")
    elif kind is not None and kind in SCHEDULE_TYPES:
        config, compiled_parts = _BUILDERS[kind](schedule_config, zone, errors)

    if errors.fields:
        raise TimingError(errors.fields)
    assert zone is not None and config is not None and kind is not None

    plan, once_at, cron_text, suffix, warnings = compiled_parts
    warnings = list(warnings)
    if kind == "ONCE" and once_at is not None:
        if end is not None and once_at > end:
            message = "The run time is after end_at, so it would never run."
            raise TimingError({"schedule_config.execute_at": [message]})
        if start is not None and once_at < start:
            warnings.append("The run time is before start_at, so it will run at start_at instead.")
    compiled = _Compiled(
        zone=zone,
        plan=plan,
        once_at=once_at,
        cron_text=cron_text,
        suffix=suffix,
        warnings=tuple(warnings),
    )
    return Timing(kind, config, zone_name, start, end, compiled)


def _parse_datetime(value: Any) -> datetime | None:
    """A datetime or ISO 8601 text ("2025-12-31 23:59:00", "…T23:59+01:00", "…Z")."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _to_utc(moment: datetime, zone: tzinfo) -> datetime:
    moment = moment.replace(microsecond=0)
    if moment.tzinfo is None:
        return _wall_to_utc(zone, moment)
    return moment.astimezone(UTC)


def _parse_bound(value: Any, key: str, zone: tzinfo | None, errors: _Errors) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    moment = _parse_datetime(value)
    if moment is None:
        errors.add(key, f"{key} must be a date and time in ISO 8601 form, e.g. '2025-01-31T09:00'.")
        return None
    if moment.tzinfo is None and zone is None:
        return None  # the time zone is wrong (reported); a wall time cannot be placed
    try:
        return _to_utc(moment, zone or UTC)
    except OverflowError:
        errors.add(key, f"{key} is out of range.")
        return None


_Parts = tuple  # (plan, once_at, cron_text, suffix, warnings)


def _check_keys(config: dict, allowed: tuple[str, ...], kind: str, errors: _Errors) -> bool:
    unknown = [key for key in config if key not in allowed]
    for key in unknown:
        errors.add(
            "schedule_config",
            f"Unknown setting '{key}' for a {kind} schedule; allowed: {', '.join(allowed)}.",
        )
    return not unknown


def _whole_number(value: Any, label: str) -> int | str:
    """The value as an int, or an error message."""
    if isinstance(value, bool):
        return f"{label} must be a whole number."
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return f"{label} must be a whole number."


def _bounded(config: dict, key: str, errors: _Errors, *, default: int | None = None) -> int | None:
    label, low, high = FIELD_BOUNDS[key]
    if config.get(key) is None:
        if default is not None:
            return default
        errors.add(f"schedule_config.{key}", f"{label} is required.")
        return None
    number = _whole_number(config[key], label)
    if isinstance(number, str):
        errors.add(f"schedule_config.{key}", number)
        return None
    if not low <= number <= high:
        errors.add(f"schedule_config.{key}", range_message(key))
        return None
    return number


def _time_of_day(config: dict, errors: _Errors) -> tuple[int | None, int | None]:
    return _bounded(config, "hour", errors), _bounded(config, "minute", errors, default=0)


def _build_once(config: dict, zone: tzinfo | None, errors: _Errors) -> tuple[dict, _Parts]:
    if not _check_keys(config, ("execute_at",), "ONCE", errors):
        return {}, ()
    value = config.get("execute_at")
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}, (None, None, None, "", ())
    moment = _parse_datetime(value)
    if moment is None:
        errors.add(
            "schedule_config.execute_at",
            "The run time must be a date and time like '2025-12-31 23:59:00'.",
        )
        return {}, ()
    moment = moment.replace(microsecond=0)
    normalized = {"execute_at": moment.isoformat(sep=" ")}
    if zone is None:
        return normalized, ()
    try:
        once_at = _to_utc(moment, zone)
    except OverflowError:
        errors.add("schedule_config.execute_at", "The run time is out of range.")
        return normalized, ()
    return normalized, (None, once_at, None, "", ())


def _daily_parts(cron_text: str) -> _Parts:
    fields, _ = compile_fields(dict(zip(_CRON_KEYS, split_expression(cron_text), strict=True)))
    assert fields is not None
    return (_Plan.from_cron(fields), None, cron_text, "", ())


def _build_daily(config: dict, zone: tzinfo | None, errors: _Errors) -> tuple[dict, _Parts]:
    if not _check_keys(config, ("hour", "minute"), "DAILY", errors):
        return {}, ()
    hour, minute = _time_of_day(config, errors)
    if hour is None or minute is None:
        return {}, ()
    return {"hour": hour, "minute": minute}, _daily_parts(f"{minute} {hour} * * *")


def _weekdays(value: Any) -> list[int] | str:
    """0-7 (0 and 7 = Sunday), names ("mon", "Monday"), or a list/comma text of them."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        items = [items]
    if not items:
        return "Choose at least one day of the week."
    days: set[int] = set()
    for item in items:
        if isinstance(item, str) and item.strip() and not item.strip().isdigit():
            name = item.strip().lower()
            matches = [
                n for n, full in enumerate(_DAY_NAMES) if len(name) >= 3 and full.startswith(name)
            ]
            if not matches:
                return f"'{item.strip()}' is not a day of the week; use 0-7 or a name like 'mon'."
            days.add(matches[0])
            continue
        number = _whole_number(item, "Day of week")
        if isinstance(number, str) or not 0 <= number <= 7:
            return range_message("day_of_week")
        days.add(number % 7)
    return sorted(days)


def _build_weekly(config: dict, zone: tzinfo | None, errors: _Errors) -> tuple[dict, _Parts]:
    if not _check_keys(config, ("day_of_week", "hour", "minute"), "WEEKLY", errors):
        return {}, ()
    days: list[int] | str | None = None
    if config.get("day_of_week") is None:
        errors.add("schedule_config.day_of_week", "Day of week is required.")
    else:
        days = _weekdays(config["day_of_week"])
        if isinstance(days, str):
            errors.add("schedule_config.day_of_week", days)
    hour, minute = _time_of_day(config, errors)
    if hour is None or minute is None or not isinstance(days, list):
        return {}, ()
    day_of_week = days[0] if len(days) == 1 else days
    normalized = {"day_of_week": day_of_week, "hour": hour, "minute": minute}
    return normalized, _daily_parts(f"{minute} {hour} * * {_day_list_text(days)}")


def _day_list_text(days: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3,5": runs read better in the description ("Monday through …")."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _build_monthly(config: dict, zone: tzinfo | None, errors: _Errors) -> tuple[dict, _Parts]:
    if not _check_keys(config, ("day_of_month", "hour", "minute"), "MONTHLY", errors):
        return {}, ()
    value = config.get("day_of_month")
    day: int | str | None = None
    if value is None:
        errors.add("schedule_config.day_of_month", "Day of month is required.")
    elif isinstance(value, str) and value.strip().lower() == "last":
        day = "last"
    else:
        number = _whole_number(value, "Day of month")
        if isinstance(number, str) or not 1 <= number <= 31:
            errors.add(
                "schedule_config.day_of_month", 'Day of month must be between 1 and 31, or "last".'
            )
        else:
            day = number
    hour, minute = _time_of_day(config, errors)
    if hour is None or minute is None or day is None:
        return {}, ()
    plan = _Plan(
        seconds=(0,),
        minutes=(minute,),
        hours=(hour,),
        months=tuple(range(1, 13)),
        month_set=frozenset(range(1, 13)),
        day_rule=("clamp", 0 if day == "last" else day),
        cadence=False,
    )
    cron_text = f"{minute} {hour} {'L' if day == 'last' else day} * *"
    suffix, warnings = "", ()
    if isinstance(day, int) and day >= 29:
        suffix = ", or on the last day of shorter months"
        warnings = (f"Months without day {day} run on their last day instead.",)
    normalized = {"day_of_month": day, "hour": hour, "minute": minute}
    return normalized, (plan, None, cron_text, suffix, warnings)


def _field_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return " ".join(value.split()).lower()
    if isinstance(value, list | tuple) and value:
        parts = [_field_text(item) for item in value]
        return None if None in parts else ",".join(parts)  # type: ignore[arg-type]
    return None


def _build_cron(config: dict, zone: tzinfo | None, errors: _Errors) -> tuple[dict, _Parts]:
    if "expression" in config:
        if len(config) > 1:
            errors.add(
                "schedule_config",
                "Give either a cron expression or the separate cron fields, not both.",
            )
            return {}, ()
        return _cron_from_expression(config["expression"], errors)
    if not _check_keys(config, _CRON_KEYS, "CRON", errors):
        return {}, ()
    texts: dict[str, str] = {}
    for key in _CRON_KEYS:
        if config.get(key) is None:
            texts[key] = "0" if key == "second" else "*"
            continue
        text = _field_text(config[key])
        if text is None:
            label = FIELD_BOUNDS[key][0]
            errors.add(
                f"schedule_config.{key}", f"{label} must be a number or cron text like '*/15'."
            )
        else:
            texts[key] = text
    if len(texts) < len(_CRON_KEYS):
        return {}, ()
    fields, field_errors = compile_fields(texts)
    for key, message in field_errors.items():
        errors.add(f"schedule_config.{key}", message)
    if fields is None:
        return {}, ()
    if not fields.can_fire():
        errors.add("schedule_config.day_of_month", "This cron expression can never fire.")
        return {}, ()
    normalized = {key: texts[key] for key in _CRON_KEYS if key != "second"}
    has_second = config.get("second") is not None
    if has_second:
        normalized = {"second": texts["second"], **normalized}
    order = _CRON_KEYS if has_second else _CRON_KEYS[1:]
    cron_text = " ".join(texts[key] for key in order)
    return normalized, (_Plan.from_cron(fields), None, cron_text, "", _cron_warnings(texts))


def _cron_from_expression(value: Any, errors: _Errors) -> tuple[dict, _Parts]:
    key = "schedule_config.expression"
    if not isinstance(value, str):
        errors.add(key, "The cron expression must be text like '*/15 9-17 * * 1-5'.")
        return {}, ()
    expression = " ".join(value.split()).lower()
    try:
        parts = split_expression(expression)
    except CronFieldError as exc:
        errors.add(key, str(exc))
        return {}, ()
    texts = dict(zip(_CRON_KEYS, parts, strict=True))
    fields, field_errors = compile_fields(texts)
    for message in field_errors.values():
        errors.add(key, message)
    if fields is None:
        return {}, ()
    if not fields.can_fire():
        errors.add(key, "This cron expression can never fire.")
        return {}, ()
    described = " ".join(parts if len(expression.split(" ")) == 6 else parts[1:])
    plan = _Plan.from_cron(fields)
    return {"expression": expression}, (plan, None, described, "", _cron_warnings(texts))


def _cron_warnings(texts: dict[str, str]) -> tuple[str, ...]:
    dom, dow = texts["day_of_month"].strip(), texts["day_of_week"].strip()
    dom_star, dow_star = dom.startswith("*"), dow.startswith("*")
    if not dom_star and not dow_star:
        return (
            "Both day of month and day of week are set, so this runs on days matching "
            "either one (standard cron behaviour), not only on days matching both.",
        )
    if dom_star != dow_star and (dom if dom_star else dow) != "*":
        star_field, label = (dom, "Day of month") if dom_star else (dow, "Day of week")
        return (
            f"{label} '{star_field}' starts with '*', so cron does not count it as set: "
            "a day must match both day fields.",
        )
    return ()


_BUILDERS = {
    "ONCE": _build_once,
    "DAILY": _build_daily,
    "WEEKLY": _build_weekly,
    "MONTHLY": _build_monthly,
    "CRON": _build_cron,
}
