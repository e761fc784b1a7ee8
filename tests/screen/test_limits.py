"""Reset-time parsing for usage-limit banners: tables of (text, now, zone) -> UTC instant.

Banner wording follows Claude Code 2.1.x (REFERENCE.md) and banners reported in public issues;
`now` is always injected, nothing reads the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_orchestrator.screen.limits import LimitBanner, find_limit, parse_reset

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Friday 2026-11-20 14:00 UTC (15:00 in Berlin, 09:00 in New York).
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
LIMIT_RE = r"You've (?:hit|reached|used) your .*limit|You're out of usage credits"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


PARSES = [
    # --- time only, today ---
    ("You've hit your session limit · resets 3pm", NOW, "UTC", utc(2026, 11, 20, 15), "3pm"),
    ("resets 3 pm", NOW, "UTC", utc(2026, 11, 20, 15), "3 pm"),
    ("RESETS 3PM", NOW, "UTC", utc(2026, 11, 20, 15), "upper case"),
    ("resets 3:30pm", NOW, "UTC", utc(2026, 11, 20, 15, 30), "3:30pm"),
    ("resets 3:30 p.m.", NOW, "UTC", utc(2026, 11, 20, 15, 30), "p.m."),
    ("resets 15:30", NOW, "UTC", utc(2026, 11, 20, 15, 30), "24h"),
    ("resets at 15:30", NOW, "UTC", utc(2026, 11, 20, 15, 30), "at"),
    ("resets 3pm UTC", NOW, "Europe/Berlin", utc(2026, 11, 20, 15), "bare UTC suffix"),
    ("resets noon", NOW, "UTC", utc(2026, 11, 20, 12), "noon (stale)"),
    # --- zones ---
    ("resets 3:30pm (Europe/Berlin)", NOW, "UTC", utc(2026, 11, 20, 14, 30), "paren zone"),
    ("resets 3:30pm (europe/berlin)", NOW, "UTC", utc(2026, 11, 20, 14, 30), "zone any case"),
    ("resets 3:30pm (Mars/Olympus)", NOW, "Europe/Berlin", utc(2026, 11, 20, 14, 30),
     "unknown zone -> default"),
    ("resets 3:30pm (Mars/Olympus)", NOW, "UTC", utc(2026, 11, 20, 15, 30), "unknown zone, UTC"),
    ("resets 3:30pm (PST)", NOW, "UTC", utc(2026, 11, 20, 15, 30), "abbreviation -> default"),
    ("resets 10am", NOW, NEW_YORK, utc(2026, 11, 20, 15), "tzinfo default"),
    ("resets 4pm (Europe/Berlin)", NOW, NEW_YORK, utc(2026, 11, 20, 15), "zone beats default"),
    ("You've hit your weekly limit · resets 5pm (America/ Detroit)", NOW, "UTC",
     utc(2026, 11, 20, 22), "zone re-joined after wrap"),
    # --- dates ---
    ("resets Nov 23, 9am", NOW, "UTC", utc(2026, 11, 23, 9), "Mon D, time"),
    ("resets November 23 at 9:15am (America/New_York)", NOW, "UTC", utc(2026, 11, 23, 14, 15),
     "Month D at time (zone)"),
    ("resets 23 Nov 9am", NOW, "UTC", utc(2026, 11, 23, 9), "D Mon time"),
    ("resets Dec 1st, 9am", NOW, "UTC", utc(2026, 12, 1, 9), "ordinal"),
    ("resets Nov 23, 2027, 9am", NOW, "UTC", utc(2027, 11, 23, 9), "explicit year"),
    ("resets 9:15am Nov 23", NOW, "UTC", utc(2026, 11, 23, 9, 15), "time before date"),
    ("resets Oct 4", utc(2026, 10, 1), "UTC", utc(2026, 10, 4), "date alone = midnight"),
    ("You've hit your weekly limit · resets Oct 10, 11am (UTC)", utc(2026, 10, 8, 12), "UTC",
     utc(2026, 10, 10, 11), "weekly banner"),
    ("You've hit your weekly limit · resets Sunday Sep 13, 2am (Europe/London)",
     utc(2026, 9, 10), "UTC", utc(2026, 9, 13, 1), "weekday before date"),
    ("resets Jan 2, 9am", utc(2026, 12, 28), "UTC", utc(2027, 1, 2, 9), "next year"),
    ("resets Dec 30, 9am", utc(2027, 1, 3), "UTC", utc(2026, 12, 30, 9), "last year (stale)"),
    ("resets Fri 4:00 PM", NOW, "UTC", utc(2026, 11, 20, 16), "weekday today"),
    ("resets Mon 9am", NOW, "UTC", utc(2026, 11, 23, 9), "weekday ahead"),
    # --- relative ---
    ("resets in 2h 13m", NOW, "UTC", NOW + timedelta(hours=2, minutes=13), "in 2h 13m"),
    ("resets in 2h13m", NOW, "UTC", NOW + timedelta(hours=2, minutes=13), "no space"),
    ("resets in 45m", NOW, "UTC", NOW + timedelta(minutes=45), "45m"),
    ("in 1 hour 5 minutes", NOW, "UTC", NOW + timedelta(hours=1, minutes=5), "words"),
    ("in 1 hour, and 5 minutes", NOW, "UTC", NOW + timedelta(hours=1, minutes=5), "and"),
    ("in 2 days and an hour", NOW, "UTC", NOW + timedelta(days=2, hours=1), "and an"),
    ("Resets in 15 hr 38 min", NOW, "UTC", NOW + timedelta(hours=15, minutes=38), "hr/min"),
    ("try again in 47 minutes", NOW, "UTC", NOW + timedelta(minutes=47), "try again"),
    ("retry in 30 seconds", NOW, "UTC", NOW + timedelta(seconds=30), "seconds"),
    ("✻ API error · Retrying in 16s · attempt 1/10", NOW, "UTC", NOW + timedelta(seconds=16),
     "claude retry line"),
    ("in 2 days", NOW, "UTC", NOW + timedelta(days=2), "days"),
    ("try again in an hour", NOW, "UTC", NOW + timedelta(hours=1), "an hour"),
    ("in 1.5 hours", NOW, "UTC", NOW + timedelta(minutes=90), "decimal"),
    # --- ISO-8601 ---
    ("resets at 2026-11-23T09:00:00Z", NOW, "UTC", utc(2026, 11, 23, 9), "iso Z"),
    ("2026-11-23T09:00:00+01:00", NOW, "UTC", utc(2026, 11, 23, 8), "iso offset"),
    ("2026-11-23T09:00:00.250-0530", NOW, "UTC",
     datetime(2026, 11, 23, 14, 30, 0, 250000, tzinfo=UTC), "iso fraction, compact offset"),
    ("2026-11-23T09:00:00", NOW, "Europe/Berlin", utc(2026, 11, 23, 8), "iso naive -> default"),
    ("2026-11-23 09:00 UTC", NOW, "Europe/Berlin", utc(2026, 11, 23, 9), "iso space + UTC"),
    # --- nearest occurrence, midnight ---
    ("resets 2am", utc(2026, 11, 20, 23), "UTC", utc(2026, 11, 21, 2), "2am at 23:00 -> tomorrow"),
    ("resets 3pm", utc(2026, 11, 20, 16), "UTC", utc(2026, 11, 20, 15), "3pm at 16:00 -> today"),
    ("resets 12am", utc(2026, 11, 20, 23), "UTC", utc(2026, 11, 21), "12am = next midnight"),
    ("resets midnight", utc(2026, 11, 20, 23), "UTC", utc(2026, 11, 21), "midnight word"),
    ("resets 12pm", utc(2026, 11, 20, 23), "UTC", utc(2026, 11, 21, 12), "12pm = noon, next one"),
    ("resets 12pm", utc(2026, 11, 20, 13), "UTC", utc(2026, 11, 20, 12), "12pm = noon, just past -> stale"),
    ("resets 11:30pm", utc(2026, 11, 21, 0, 10), "UTC", utc(2026, 11, 20, 23, 30),
     "just past midnight -> yesterday"),
    ("resets 3am", utc(2026, 11, 20, 15), "UTC", utc(2026, 11, 21, 3), "12 h tie -> future"),
    ("try again at 3:28 PM", utc(2026, 11, 20, 3), "UTC", utc(2026, 11, 20, 15, 28), "12.5 h ahead, not 11.5 h behind"),
    ("resets 3pm", utc(2026, 11, 20, 20, 30), "UTC", utc(2026, 11, 20, 15), "passed 5.5 h ago -> stale"),
    ("resets 3pm", utc(2026, 11, 20, 21, 30), "UTC", utc(2026, 11, 21, 15), "passed 6.5 h ago -> next one"),
    # --- DST: Berlin leaves CEST at 2026-10-25 03:00 CEST = 01:00 UTC ---
    ("resets 3am (Europe/Berlin)", utc(2026, 10, 24, 22), "UTC", utc(2026, 10, 25, 2),
     "after fall-back, CET"),
    ("resets 1am (Europe/Berlin)", utc(2026, 10, 24, 22), "UTC", utc(2026, 10, 24, 23),
     "before fall-back, CEST"),
    ("resets 2:30am", utc(2026, 10, 24, 23), "Europe/Berlin", utc(2026, 10, 25, 0, 30),
     "ambiguous 2:30 -> first (CEST)"),
    ("resets Oct 25, 9am (Europe/Berlin)", utc(2026, 10, 20), "UTC", utc(2026, 10, 25, 8),
     "date after fall-back"),
    ("in 2 hours", datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN), "UTC",
     utc(2026, 10, 25, 1, 30), "relative across fall-back counts real hours"),
    ("resets 2:30am (Europe/Berlin)", utc(2026, 3, 29), "UTC", utc(2026, 3, 29, 1, 30),
     "spring-forward gap -> pre-transition offset"),
    # --- last match wins ---
    ("resets 3pm, try again in 10 minutes", NOW, "UTC", NOW + timedelta(minutes=10),
     "last: relative"),
    ("try again in 10 minutes, resets 3pm", NOW, "UTC", utc(2026, 11, 20, 15), "last: clock"),
    ("resets Nov 23, 9am · weekly resets Nov 27, 9am", NOW, "UTC", utc(2026, 11, 27, 9),
     "last: date"),
    ("resets 4pm · garbage Feb 30, 3pm", NOW, "UTC", utc(2026, 11, 20, 16),
     "an impossible last date is skipped, not cut down to its time"),
]


@pytest.mark.parametrize(("text", "now", "tz", "expected"),
                         [pytest.param(*row[:4], id=row[4]) for row in PARSES])
def test_parse_reset_table(text: str, now: datetime, tz: str, expected: datetime) -> None:
    got = parse_reset(text, now, tz)
    assert got == expected
    assert got is not None and got.tzinfo is UTC


UNPARSEABLE = [
    "", "You've hit your usage limit", "You're out of usage credits",
    "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a "
    "moment.", "resets soon", "resets 3", "resets 13pm", "resets 0am", "resets 25:00",
    "resets 9:75", "resets Feb 30, 3pm", "resets Feb 29, 2027, 9am", "Version: 2.1.197",
    "attempt 1/10", "5-hour limit reached", "(9s · ↓ 24 tokens)", "2026-13-01T00:00:00Z",
    "2026-11-23T09:00:00+25:00",
]


@pytest.mark.parametrize("text", UNPARSEABLE)
def test_unparseable_is_none(text: str) -> None:
    assert parse_reset(text, NOW) is None


def test_feb_29_without_year_must_be_within_six_months() -> None:
    # The next Feb 29 after March 2027 is a year away: no occurrence near enough to trust.
    assert parse_reset("resets Feb 29, 9am", utc(2027, 3, 1)) is None
    assert parse_reset("resets Feb 29, 9am", utc(2028, 1, 10)) == utc(2028, 2, 29, 9)


def test_naive_now_raises() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_reset("resets 3pm", datetime(2026, 11, 20, 14))
    with pytest.raises(ValueError, match="aware"):
        find_limit(["You've hit your session limit"], LIMIT_RE, datetime(2026, 11, 20, 14))


def test_unknown_default_tz_raises() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parse_reset("resets 3pm", NOW, "Mars/Olympus")


def test_now_in_any_zone_gives_the_same_instant() -> None:
    berlin_now = NOW.astimezone(BERLIN)
    assert parse_reset("resets 3:30pm (Europe/Berlin)", berlin_now) == utc(2026, 11, 20, 14, 30)


# --- find_limit ------------------------------------------------------------------------------

SCREEN = [
    "● Bash(make test)",
    "  ⎿  ok",
    "",
    "  ⎿  You've hit your session limit · resets 3pm",
    "",
    "────────────────────────────────",
    "❯ ",
    "────────────────────────────────",
    "  ⏵⏵ bypass permissions on (shift+tab to cycle)",
]


def test_find_limit_current_banner() -> None:
    banner = find_limit(SCREEN, LIMIT_RE, NOW)
    assert banner == LimitBanner(line="  ⎿  You've hit your session limit · resets 3pm",
                                 reset_at=utc(2026, 11, 20, 15), stale=False)


def test_find_limit_stale_banner() -> None:
    banner = find_limit(SCREEN, LIMIT_RE, utc(2026, 11, 20, 16))
    assert banner is not None
    assert banner.reset_at == utc(2026, 11, 20, 15) and banner.stale


def test_find_limit_reset_exactly_now_is_stale() -> None:
    banner = find_limit(SCREEN, LIMIT_RE, utc(2026, 11, 20, 15))
    assert banner is not None and banner.stale


def test_find_limit_last_matching_line_wins() -> None:
    screen = ["You've hit your session limit · resets 1pm", "…", "You've used your Opus limit "
              "· resets 5pm", "❯ "]
    banner = find_limit(screen, LIMIT_RE, NOW)
    assert banner is not None
    assert banner.line.startswith("You've used") and banner.reset_at == utc(2026, 11, 20, 17)


def test_find_limit_time_wrapped_onto_next_line() -> None:
    screen = ["  ⎿  You've hit your weekly limit ·", "     resets Nov 23, 9am", ""]
    banner = find_limit(screen, LIMIT_RE, NOW, "Europe/Berlin")
    assert banner is not None
    assert banner.line == "  ⎿  You've hit your weekly limit ·"
    assert banner.reset_at == utc(2026, 11, 23, 8) and not banner.stale


def test_find_limit_zone_wrapped_onto_next_line() -> None:
    screen = ["You've hit your session limit · resets 3:30pm (Europe/", "Berlin)"]
    banner = find_limit(screen, LIMIT_RE, NOW)
    assert banner is not None and banner.reset_at == utc(2026, 11, 20, 14, 30)


def test_find_limit_prefers_its_own_line_over_a_later_time() -> None:
    screen = ["You've hit your session limit · resets 3pm", "Retrying in 16s"]
    banner = find_limit(screen, LIMIT_RE, NOW)
    assert banner is not None and banner.reset_at == utc(2026, 11, 20, 15)


def test_find_limit_does_not_look_past_a_blank_line_or_two_lines() -> None:
    after_blank = ["You've hit your usage limit", "", "resets 3pm"]
    too_far = ["You've hit your usage limit", "a", "b", "resets 3pm"]
    for screen in (after_blank, too_far):
        banner = find_limit(screen, LIMIT_RE, NOW)
        assert banner == LimitBanner(line="You've hit your usage limit", reset_at=None,
                                     stale=False)


def test_find_limit_without_time_has_no_reset() -> None:
    banner = find_limit(["You're out of usage credits", "❯ "], LIMIT_RE, NOW)
    assert banner is not None and banner.reset_at is None and not banner.stale


def test_find_limit_no_banner() -> None:
    assert find_limit(SCREEN[:3], LIMIT_RE, NOW) is None
    assert find_limit([], LIMIT_RE, NOW) is None


def test_find_limit_accepts_one_string() -> None:
    banner = find_limit("\n".join(SCREEN), LIMIT_RE, NOW)
    assert banner is not None and banner.reset_at == utc(2026, 11, 20, 15)


def test_find_limit_regex_is_taken_as_written() -> None:
    assert find_limit(["YOU'VE HIT YOUR SESSION LIMIT"], LIMIT_RE, NOW) is None
    assert find_limit(["YOU'VE HIT YOUR SESSION LIMIT"], "(?i)" + LIMIT_RE, NOW) is not None


def test_find_limit_invalid_regex_raises() -> None:
    with pytest.raises(ValueError, match="limit_re"):
        find_limit(SCREEN, "You've hit (", NOW)


# --- properties ------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
FRAGMENTS = ["resets ", "in ", "try again in ", " ", "·", ",", "(", ")", "/", ":", "at ", "am",
             "pm", "a.m.", "Nov ", "23", "9", "12", "2026-11-23T09:00", "Z", "+01:00", "h", "m",
             " minutes", "an ", "Europe/Berlin", "Mars/Olympus", "UTC", "Sunday ", "noon", "\n"]
any_now = st.datetimes(timezones=st.sampled_from([UTC, BERLIN, NEW_YORK]))
sane_now = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC))


def _aware_utc_or_none(got: datetime | None) -> bool:
    return got is None or got.tzinfo is UTC


@settings(max_examples=300)
@given(text=st.text(), now=any_now)
def test_arbitrary_text_never_raises(text: str, now: datetime) -> None:
    assert _aware_utc_or_none(parse_reset(text, now))


@settings(max_examples=300)
@given(parts=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=25),
       now=any_now, tz=st.sampled_from(ZONES))
def test_banner_like_text_never_raises(parts: list[str], now: datetime, tz: str) -> None:
    text = "".join(parts)
    assert _aware_utc_or_none(parse_reset(text, now, tz))
    banner = find_limit(text.split("\n"), r"resets|in ", now, tz)
    assert banner is None or _aware_utc_or_none(banner.reset_at)


@settings(max_examples=300)
@given(hour=st.integers(1, 12), minute=st.integers(0, 59), meridiem=st.sampled_from(["am", "pm"]),
       now=sane_now, tz=st.sampled_from(ZONES))
def test_time_only_is_next_wall_time_unless_just_past(hour: int, minute: int, meridiem: str, now: datetime,
                                        tz: str) -> None:
    got = parse_reset(f"You've hit your session limit · resets {hour}:{minute:02d}{meridiem}",
                      now, tz)
    assert got is not None and got.tzinfo is UTC
    zone = ZoneInfo(tz)
    # Neighbouring days are 23-25 h apart where the zone has DST, 24 h where it has not.
    has_dst = any(datetime(2026, month, 1, tzinfo=zone).dst() for month in (1, 7))
    slack = timedelta(minutes=60 if has_dst else 0)
    assert -timedelta(hours=6) - slack < got - now <= timedelta(hours=18) + slack
    want = (hour % 12 + (12 if meridiem == "pm" else 0), minute)
    local = got.astimezone(zone)
    wall = datetime(local.year, local.month, local.day, *want, tzinfo=zone)
    exists = wall.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None)
    if exists:  # a wall time inside a spring-forward gap cannot be shown on the clock
        assert (local.hour, local.minute) == want


@settings(max_examples=300)
@given(days=st.integers(0, 30), hours=st.integers(0, 400), minutes=st.integers(0, 59),
       style=st.sampled_from(["resets in {h}h {m}m", "try again in {h} hours {m} minutes",
                              "in {h} hr, {m} min", "resets in {d}d {h}h {m}m"]),
       now=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.sampled_from([UTC, BERLIN, NEW_YORK])))
def test_relative_is_now_plus_delta(days: int, hours: int, minutes: int, style: str,
                                    now: datetime) -> None:
    text = style.format(d=days, h=hours, m=minutes)
    delta = timedelta(days=days if "{d}" in style else 0, hours=hours, minutes=minutes)
    got = parse_reset(text, now)
    # Elapsed time, so computed in UTC: a zoned now + delta would shift with DST.
    assert got == now.astimezone(UTC) + delta and got is not None and got.tzinfo is UTC
