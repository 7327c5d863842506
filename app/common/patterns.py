"""Shapes of identifiers used by prison systems in England and Wales."""

PRISONER_NUMBER = r"^[A-Z][0-9]{4}[A-Z]{2}$"
PRISON_ID = r"^[A-Z]{3}$"
CASE_REFERENCE = r"^[A-Z]{3}-RJ-[0-9]{6}$"
