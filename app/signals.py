"""Domain events, sent after the database commit that made them true.

The schedule service sends these; the execution engine (app/scheduling/bridge.py) listens
to keep Redis in step with the database. Senders do not know who listens.
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Flask app; kwargs: schedule (a Schedule, committed), timing_changed (bool)
schedule_saved = _signals.signal("schedule-saved")
# sender: the Flask app; kwargs: schedule_id (int), organization_id (int)
schedule_deleted = _signals.signal("schedule-deleted")
