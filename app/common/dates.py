"""Calendar dates as the UTC instants that bound them."""

from datetime import UTC, date, datetime, time, timedelta


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_end(day: date) -> datetime:
    """Midnight UTC after `day`: the exclusive end of a range that includes `day`."""
    return day_start(day + timedelta(days=1))
