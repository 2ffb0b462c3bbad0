"""Working days for SLA clocks: Monday to Friday, minus Indonesian national holidays
(the `holidays` package) and any extra days off the office sets (cuti bersama)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays


class WorkingCalendar:
    def __init__(self, zone: ZoneInfo, extra_days_off: Iterable[date] = ()) -> None:
        self.zone = zone
        self._holidays = holidays.country_holidays("ID")
        self._extra = frozenset(extra_days_off)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays and day not in self._extra

    def add(self, start: datetime, working_days: int) -> datetime:
        """The same local time of day, `working_days` working days after `start`."""
        local = start.astimezone(self.zone)
        day = local.date()
        remaining = working_days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)

    def between(self, start: datetime, end: datetime) -> int:
        """Whole working days from `start` to `end` (0 when end is not after start)."""
        first, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count
