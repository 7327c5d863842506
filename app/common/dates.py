"""Calendar dates as the UTC instants that bound them, and the prisons' local day."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app import clock
from app.config import get_settings


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_end(day: date) -> datetime:
    """Midnight UTC after `day`: the exclusive end of a range that includes `day`."""
    return day_start(day + timedelta(days=1))


def local_zone() -> ZoneInfo:
    """The prisons' local time zone."""
    return ZoneInfo(get_settings().local_timezone)


def local_today() -> date:
    """Today's date in the prisons' local time."""
    return clock.now().astimezone(local_zone()).date()


def local_day_end(day: date) -> datetime:
    """The UTC instant the local `day` ends (local midnight after it)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=local_zone()).astimezone(UTC)
