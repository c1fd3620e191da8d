"""CronJob schedules and time zones are judged as the API server judges them (robfig/cron's standard parser)."""

from __future__ import annotations

import pytest

from gushen_infra import cron

GOOD = [
    "0 * * * *", "30 3 * * *", "*/15 1-5 * jan-MAR Mon-Fri", "0 0 ? * *", "0 0 1,15 * ?",
    "5/10 * * * *", "0 0 * * SUN,sat", "59 23 31 12 6", "@hourly", "@daily", "@midnight", "@annually",
]
BAD = [
    ("61 * * * *", "minute field: 61 is out of range 0-59"),
    ("0 24 * * *", "hour field: 24 is out of range 0-23"),
    ("0 0 0 * *", "day of month field: 0 is out of range 1-31"),
    ("0 0 * 13 *", "month field: 13 is out of range 1-12"),
    ("0 0 * * 7", "day of week field: 7 is out of range 0-6"),
    ("0 0 * * FUNDAY", "day of week field: 'FUNDAY' is not a number or a name"),
    ("? * * * *", "minute field: '?' is only allowed for day of month or day of week"),
    ("*/0 * * * *", "minute field: step 0 in '*/0'"),
    ("10-5 * * * *", "minute field: range '10-5' runs backwards"),
    ("1,,2 * * * *", "minute field: cannot parse ''"),
    ("0 * * *", "want 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("0 0 * * * *", "got 6"),
    ("", "got 0"),
    ("@every 1h", "unknown macro"),
    ("TZ=Asia/Shanghai 0 * * * *", "set the time zone with timeZone"),
]


@pytest.mark.parametrize("schedule", GOOD)
def test_schedules_kubernetes_accepts_pass(schedule):
    assert cron.cron_expression(schedule) == schedule


@pytest.mark.parametrize("schedule,reason", BAD, ids=[b[0] or "empty" for b in BAD])
def test_schedules_kubernetes_refuses_are_explained(schedule, reason):
    with pytest.raises(ValueError) as info:
        cron.cron_expression(schedule)
    assert str(info.value).startswith("invalid cron expression: ") and reason in str(info.value)


@pytest.mark.parametrize("zone", ["Etc/UTC", "UTC", "Asia/Shanghai", "Europe/Berlin"])
def test_iana_time_zones_pass(zone):
    assert cron.time_zone(zone) == zone


@pytest.mark.parametrize("zone", ["Beijing", "Local", "../../etc/passwd", "Asia/Shanghai "])
def test_other_time_zones_are_refused(zone):
    with pytest.raises(ValueError, match="unknown time zone"):
        cron.time_zone(zone)
