"""Executing runs: the RQ worker and (issue 4) the run job and its state machine."""
