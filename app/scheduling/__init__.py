"""Timing rules (pure, no Flask) and the bridge to rq-scheduler."""
