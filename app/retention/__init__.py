"""Retention of case data: legal holds and the purge."""
