"""Validation of CronJob schedules and time zones, as the API server would judge them.

Kubernetes parses ``spec.schedule`` with robfig/cron's standard parser: five fields
(minute, hour, day of month, month, day of week), each a list of ``*``, ``?``, ``N`` or
``N-M``, optionally ``/step``; month and weekday names; and the ``@hourly``-style macros.
A bad schedule is refused by the API server at ``pulumi up`` time; checking it here reports
it with the config key, before anything is registered.
"""

from __future__ import annotations

import re
import zoneinfo

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
#: (field name, lowest, highest, names)
FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_PART = re.compile(r"^(?P<range>\*|\?|[A-Za-z0-9]+(-[A-Za-z0-9]+)?)(/(?P<step>[0-9]+))?$")


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"{name} field: {text!r} is not a number" + (" or a name" if names else ""))
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name} field: {value} is out of range {low}-{high}")
    return value


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    for part in text.split(","):
        match = _PART.match(part)
        if not match:
            raise ValueError(f"{name} field: cannot parse {part!r}")
        if match["step"] is not None and int(match["step"]) == 0:
            raise ValueError(f"{name} field: step 0 in {part!r}")
        if match["range"] in ("*", "?"):
            if match["range"] == "?" and name not in ("day of month", "day of week"):
                raise ValueError(f"{name} field: '?' is only allowed for day of month or day of week")
            continue
        first, _, last = match["range"].partition("-")
        start = _value(first, name, low, high, names)
        if last and _value(last, name, low, high, names) < start:
            raise ValueError(f"{name} field: range {match['range']!r} runs backwards")


def cron_expression(value: str) -> str:
    """A schedule the API server accepts: five fields, or one of the macros."""
    if value.startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("invalid cron expression: set the time zone with timeZone, not in the schedule")
    if value.startswith("@"):
        if value not in MACROS:
            raise ValueError(f"invalid cron expression: unknown macro (want one of {', '.join(sorted(MACROS))})")
        return value
    fields = value.split()
    if len(fields) != len(FIELDS):
        raise ValueError(
            f"invalid cron expression: want 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    try:
        for text, spec in zip(fields, FIELDS):
            _field(text, *spec)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression: {exc}") from None
    return value


def time_zone(value: str) -> str:
    """An IANA time zone name (the controller manager resolves it with Go's tz database)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError("unknown time zone (want an IANA name such as Etc/UTC or Asia/Shanghai)") from None
    return value
