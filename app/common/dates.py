"""Calendar dates as the instants that bound them: in UTC, or in the prisons' local time."""

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


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of `day` and of the next day, in local time (23 or 25 hours across DST)."""
    zone = local_zone()
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def local_period(first: date, last: date) -> tuple[datetime, datetime]:
    """`[start, end)` of the days `first` to `last`, both included, in local time."""
    return local_day_bounds(first)[0], local_day_bounds(last)[1]


def month_start(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def local_today() -> date:
    """Today's date in the prisons' local time."""
    return clock.now().astimezone(local_zone()).date()


def local_day_end(day: date) -> datetime:
    """The UTC instant the local `day` ends (local midnight after it)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=local_zone()).astimezone(UTC)
