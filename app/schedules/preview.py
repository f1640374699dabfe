"""The preview of a timing config, saved or not: the API's /schedules/preview and the form's."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from app.errors import ValidationFailed
from app.models import utcnow
from app.scheduling.timing import TimingError, build_timing
from app.web import iso_z


def preview_of(body: dict[str, Any], count: int) -> dict[str, Any]:
    """Description, warnings and the next `count` slots (UTC, and wall time in the zone)."""
    try:
        timing = build_timing(
            body.get("schedule_type") or "", body.get("schedule_config") or {},
            body.get("timezone") or "UTC", body.get("start_at"), body.get("end_at"),
        )  # fmt: skip
    except TimingError as exc:
        raise ValidationFailed(exc.fields) from None
    now = utcnow()
    first = timing.initial_slot(now)
    slots = [] if first is None else [first, *timing.next_slots(first, count - 1)]
    zone = ZoneInfo(timing.timezone)
    return {
        "description": timing.describe(),
        "timezone": timing.timezone,
        "next": [iso_z(slot) for slot in slots],
        "next_in_zone": [
            slot.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z") for slot in slots
        ],
        "immediate": first == now,
        "warnings": list(timing.warnings),
    }
