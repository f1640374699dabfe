"""Our cron engine against croniter, an independent implementation, on random expressions.

croniter is used only here. It is asked for Vixie semantics explicitly:
- ``second_at_beginning=True``: our 6-field form has seconds FIRST (croniter's default is last);
- ``day_or=True`` with ``implement_cron_bug=True``: both day fields restricted -> either day
  matches, and a day field that merely *starts* with "*" ("*/2") does not count as restricted,
  so the fields are ANDed -- exactly Vixie's DOM_STAR/DOW_STAR rule that SPEC §2 adopts.
  (Without implement_cron_bug, croniter treats "*/2" as restricted and ORs the fields.)
Zones are UTC and zones without DST (Asia/Kolkata +05:30, Asia/Tokyo, Asia/Kathmandu +05:45),
where croniter's wall-clock arithmetic is exact; DST behaviour is tested in test_timing_dst.py
against SPEC's own rules instead.
"""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from app.scheduling.timing import build_timing

ZONES = ("UTC", "Asia/Kolkata", "Asia/Tokyo", "Asia/Kathmandu")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
SLOTS = 20


def _number(rng, low, high, names=None):
    value = rng.randint(low, high)
    if names and rng.random() < 0.4:
        return names[value % len(names) if len(names) == 7 else value - 1]
    return str(value)


def _term(rng, low, high, names=None):
    kind = rng.choice(("value", "range", "range_step", "star_step", "start_step", "value"))
    if kind == "value":
        return _number(rng, low, high, names)
    if kind == "star_step":
        return f"*/{rng.randint(1, max(2, (high - low) // 2))}"
    first = rng.randint(low, high - 1)
    if kind == "start_step":
        return f"{first}/{rng.randint(1, max(2, (high - low) // 3))}"
    # croniter expands an equal range ("thu-thu", "5-5/2") to the whole field; Vixie reads
    # it as that one value (as we do), so ranges here always span at least two values.
    last = rng.randint(first + 1, high)
    if names and kind == "range" and rng.random() < 0.4 and (high != 7 or last < 7):
        offset = 1 if len(names) == 12 else 0
        text = f"{names[first - offset]}-{names[last - offset]}"
    else:
        text = f"{first}-{last}"
    if kind == "range_step":
        text += f"/{rng.randint(1, max(2, last - first))}"
    return text


def _field(rng, low, high, names=None, star=0.35):
    if rng.random() < star:
        return "*"
    return ",".join(_term(rng, low, high, names) for _ in range(rng.choice((1, 1, 2, 3))))


def _expression(rng):
    fields = [
        _field(rng, 0, 59, star=0.15),  # minute
        _field(rng, 0, 23, star=0.3),  # hour
        _field(rng, 1, 31, star=0.5),  # day of month
        _field(rng, 1, 12, MONTHS, star=0.6),  # month
        _field(rng, 0, 7, DAYS, star=0.5),  # day of week
    ]
    if rng.random() < 0.3:
        fields.insert(0, _field(rng, 0, 59, star=0.2))  # seconds first
    return " ".join(fields)


def _cases():
    rng = random.Random(20250101)
    cases = []
    while len(cases) < 300:
        expression = _expression(rng)
        zone = rng.choice(ZONES)
        seconds = rng.randint(0, 3 * 365 * 86400)
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        cases.append((expression, zone, start))
    return cases


def _croniter_slots(expression, zone, start, count):
    base = start.astimezone(ZoneInfo(zone))
    it = croniter(
        expression,
        base,
        day_or=True,
        implement_cron_bug=True,
        second_at_beginning=len(expression.split()) == 6,
    )
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def _can_fire(expression):
    try:
        build_timing("CRON", {"expression": expression})
    except ValueError:
        return False
    return True


CASES = [case for case in _cases() if _can_fire(case[0])]


def test_the_random_cases_cover_every_kind_of_cron_text():
    text = " ".join(expression for expression, _, _ in CASES)
    assert len(CASES) >= 280
    for piece in ("/", "-", ",", "mon", "jan"):
        assert piece in text
    assert any(len(expression.split()) == 6 for expression, _, _ in CASES)
    both_days = [
        e for e, _, _ in CASES if not e.split()[-3].startswith("*") and e.split()[-1] != "*"
    ]
    assert len(both_days) >= 30


@pytest.mark.parametrize(("expression", "zone", "start"), CASES, ids=[c[0] for c in CASES])
def test_the_next_twenty_slots_match_croniter(expression, zone, start):
    timing = build_timing("CRON", {"expression": expression}, zone)
    assert timing.next_slots(start, SLOTS) == _croniter_slots(expression, zone, start, SLOTS)
