"""Dagster definitions: the operations view of StreamPulse."""
