"""Usage-limit banners: find one on an agent's screen and parse when the limit resets.

Where the text comes from: Claude Code 2.1.x prints a subscription usage limit as
``You've hit your session limit · resets 3pm`` (also ``weekly limit``, ``Opus limit``,
``usage limit``; other prefixes "You've reached your", "You've used", "You're out of usage
credits"), with an IANA zone in parentheses when the user's zone is known
(``resets 3:30pm (Europe/Berlin)``) and a date when the reset is further off
(``resets Oct 10, 11am (UTC)``, ``resets Sep 15 at 7pm``: wording as quoted in public bug
reports). API-style errors say ``try again in 47 minutes`` / ``Retrying in 16s``; some tools
print ISO-8601 stamps. These banners need a claude.ai login, so this module is tested on text
only (see REFERENCE.md).

Everything here is pure: the caller injects ``now`` (an aware datetime) and the screen lines
(from ``capture-pane``); every time returned is an aware UTC datetime. Garbage text never raises:
it yields ``None``. Only programming/config errors raise ``ValueError`` (naive ``now``, unknown
``default_tz``, invalid ``limit_re``).
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

__all__ = ["LimitBanner", "find_limit", "parse_reset"]

_UTC = UTC
# A banner wraps in a narrow pane; its time is on the matched line or on one of the next two.
_WRAP_LINES = 2

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_WEEKDAYS = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
_RELATIVE_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
                   "m": timedelta(minutes=1), "s": timedelta(seconds=1)}

# --- grammar pieces (all compiled case-insensitive) --------------------------------------------
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?![a-z])")
_WEEKDAY = (r"\b(?P<wd>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?"
            r"|fri(?:day)?|sat(?:urday)?|sun(?:day)?)\.?(?![a-z])")
# A day number must not be the hour of a following time ("Nov 9am", "Nov 9:15am").
_DAY_END = r"(?:st|nd|rd|th)?(?![\w:])(?!\s*[ap]\.?m\b)"
_DATE = (rf"(?:{_WEEKDAY},?\s+)?"
         rf"(?:\b(?P<mon>{_MONTH})\s*(?P<day>\d{{1,2}}){_DAY_END}"
         rf"|(?<![\w:.])(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?\b(?P<mon2>{_MONTH}))"
         r"(?:,?\s+(?P<year>\d{4})(?![\d:]))?")
# 12-hour needs am/pm, 24-hour needs the colon: a bare "3" is never a time.
_TIME = (r"(?:\b(?P<word>noon|midnight)(?![a-z])"
         r"|(?<![\w:.])(?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::\d{2})?(?![\d:])"
         r"(?:\s*(?P<ap>[ap])\.?m\b\.?)?|\s*(?P<ap2>[ap])\.?m\b\.?))")
# Whitespace around "/" is allowed because a wrapped banner is re-joined with a space.
_ZONE = (r"(?:\s*\(\s*(?P<zone>[a-z][\w+\-]*(?:\s*/\s*[\w+\-]+)*)\s*\)"
         r"|\s+(?P<zabbr>utc|gmt)(?![\w/]))?")
_DATE_TIME_SEP = r"(?:\s*[,·]\s*|\s+)(?:at\s+|@\s*)?"
_TIME_DATE_SEP = r"(?:\s*[,·]\s*|\s+)(?:on\s+)?"
_UNIT = (r"(?:weeks?|wks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
         r"(?![a-z])")
_AMOUNT = r"(?:\d+(?:\.\d+)?\s*|an?\s+)"
_RELATIVE = (rf"\b(?:in|after|resets?)\s+(?P<dur>{_AMOUNT}{_UNIT}"
             rf"(?:\s*(?:,\s*)?(?:and\s+)?{_AMOUNT}{_UNIT})*)")
_ISO = (r"(?<![\w.])(?P<iy>\d{4})-(?P<imo>\d{2})-(?P<id>\d{2})[t\s](?P<ih>\d{2}):(?P<imi>\d{2})"
        r"(?::(?P<is>\d{2})(?:[.,](?P<ifrac>\d+))?)?\s*(?P<ioff>z|[+-]\d{2}(?::?\d{2})?)?"
        r"(?![\w:])" + _ZONE)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx, re.IGNORECASE)) for kind, rx in (
        ("iso", _ISO),
        ("relative", _RELATIVE),
        ("absolute", _DATE + _DATE_TIME_SEP + _TIME + _ZONE),
        ("absolute", _TIME + _TIME_DATE_SEP + _DATE + _ZONE),
        ("absolute", _WEEKDAY + _DATE_TIME_SEP + _TIME + _ZONE),
        ("absolute", _TIME + _ZONE),
        ("absolute", _DATE + _ZONE),
    ))
# "a"/"an" only as whole words: the "an" of "and" must not read as one ("and 5 d...").
_COMPONENT = re.compile(rf"(\d+(?:\.\d+)?|(?<![a-z])an?(?=\s))\s*({_UNIT})", re.IGNORECASE)


@dataclass(frozen=True)
class LimitBanner:
    """A usage-limit banner seen on an agent's screen.

    ``line`` is the screen line that matched ``limit_re``; ``reset_at`` is the aware UTC reset
    time, or ``None`` when the banner (and the lines it wraps onto) carries no parseable time;
    ``stale`` is true when ``reset_at`` is at or before ``now`` (the banner is left over from a
    limit that has already lifted).
    """

    line: str
    reset_at: datetime | None
    stale: bool


def parse_reset(text: str, now: datetime, default_tz: str | tzinfo = "UTC") -> datetime | None:
    """Return the reset time named in ``text`` as an aware UTC datetime, or ``None``.

    The LAST time expression in ``text`` that resolves to a real instant wins (a banner's newest
    statement is at its end). Understood, case-insensitively: ``3pm``, ``3:30 p.m.``, ``15:30``,
    ``noon``/``midnight``, each optionally followed by ``(IANA/Zone)`` or ``UTC``/``GMT``;
    dates ``Nov 23, 9am``, ``November 23 at 9:15am``, ``23 Nov 9am``, ``Sunday Sep 13, 2am``,
    ``Nov 23, 2026``; weekday + time ``Fri 4:00 PM``; durations after ``in``/``after``/``resets``
    (``in 2h 13m``, ``in 15 hr 38 min``, ``in an hour``), taken from ``now``; ISO-8601 with ``Z``,
    an offset, or naive.

    Wall times are read in the parenthesised zone if it is a known IANA zone, else in
    ``default_tz`` (an unknown zone in the text never raises). A time without a date resolves to
    its next occurrence after ``now`` − 6 h (so a reset that passed less than 6 h ago reads as
    stale, and "3:28 PM" at 03:00 as today's afternoon); a date
    without a year to the nearest within ~6 months; a weekday to the nearest within ~3.5 days.
    In a DST fall-back overlap the earlier instant is used; a wall time inside a spring-forward
    gap is read with the pre-transition offset (so it lands one gap-length later on the clock).

    Raises ``ValueError`` if ``now`` is naive or ``default_tz`` names no known zone.
    """
    now_utc = _aware_utc(now)
    found = _scan(text, now_utc, _resolve_default(default_tz))
    return found[-1][1] if found else None


def find_limit(screen: Sequence[str], limit_re: str, now: datetime,
               default_tz: str | tzinfo = "UTC") -> LimitBanner | None:
    """Return the last screen line matching ``limit_re`` with its parsed reset time, or ``None``.

    ``screen`` is the pane's lines top to bottom (a single string is split into lines);
    ``limit_re`` is a Python regex searched on each line as written (add ``(?i)`` for case-
    insensitivity), compiled once per pattern. The time is looked for on the matched line, then
    — because banners wrap in narrow panes — on the next one or two non-blank lines, joined with
    a space; an expression starting on an earlier line beats one on a later line, and within a
    line the last one wins. Raises ``ValueError`` for a naive ``now``, an unknown
    ``default_tz`` or an invalid ``limit_re``.
    """
    now_utc = _aware_utc(now)
    zone = _resolve_default(default_tz)
    pattern = _compile_limit(limit_re)
    lines = screen.splitlines() if isinstance(screen, str) else list(screen)
    hit = next((i for i in range(len(lines) - 1, -1, -1) if pattern.search(lines[i])), None)
    if hit is None:
        return None
    window = [lines[hit].rstrip()]
    for follow in lines[hit + 1:hit + 1 + _WRAP_LINES]:
        if not follow.strip():
            break  # a blank line ends the banner: what follows is other UI, not its wrap
        window.append(follow.strip())
    starts, joined = [], ""
    for part in window:
        starts.append(len(joined))
        joined += part + " "
    starts.append(len(joined))
    found = _scan(joined, now_utc, zone)
    reset_at = None
    for lo, hi in itertools.pairwise(starts):
        on_line = [when for start, when in found if lo <= start < hi]
        if on_line:
            reset_at = on_line[-1]
            break
    return LimitBanner(line=lines[hit], reset_at=reset_at,
                       stale=reset_at is not None and reset_at <= now_utc)


# --- internals --------------------------------------------------------------------------------

def _aware_utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime (e.g. datetime.now(timezone.utc)), "
                         f"got naive {now!r}")
    return now.astimezone(_UTC)


def _resolve_default(default_tz: str | tzinfo) -> tzinfo:
    if isinstance(default_tz, tzinfo):
        return default_tz
    zone = _zone_named(default_tz)
    if zone is None:
        raise ValueError(f"default_tz {default_tz!r} is not a known IANA time zone")
    return zone


@functools.lru_cache(maxsize=256)
def _zone_named(name: str) -> tzinfo | None:
    """The zone called ``name`` (exact, else case-insensitive), or ``None``; never raises."""
    name = re.sub(r"\s+", "", name)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    canonical = _zone_index().get(name.lower())
    return zoneinfo.ZoneInfo(canonical) if canonical else None


@functools.lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    # Zone files are case-sensitive on Linux; a banner typed by a human may not be.
    return {key.lower(): key for key in zoneinfo.available_timezones()}


@functools.lru_cache(maxsize=64)
def _compile_limit(limit_re: str) -> re.Pattern[str]:
    try:
        return re.compile(limit_re)
    except re.error as err:
        raise ValueError(f"limit_re {limit_re!r} is not a valid regex: {err}") from err


def _scan(text: str, now: datetime, default: tzinfo) -> list[tuple[int, datetime]]:
    """Every time expression in ``text`` that resolves, as (start offset, aware UTC), in order.

    Matches of all forms are tokenised leftmost-longest without overlap, so "Nov 23, 9am" is one
    expression rather than a date and a separate time; an expression that does not resolve
    (e.g. "Feb 30, 3pm") is dropped whole instead of falling back to a fragment of it.
    """
    matches = sorted(((m.start(), -(m.end() - m.start()), kind, m)
                      for kind, rx in _PATTERNS for m in rx.finditer(text)),
                     key=lambda item: item[:2])
    found: list[tuple[int, datetime]] = []
    taken_until = 0
    for start, _neg_len, kind, match in matches:
        if start < taken_until:
            continue
        taken_until = match.end()
        try:
            when = _EVALUATORS[kind](match.groupdict(), now, default)
        except (ValueError, OverflowError):  # out-of-range fields or dates near year 1/9999
            when = None
        if when is not None:
            found.append((start, when.astimezone(_UTC)))
    return found


def _zone_of(gd: dict[str, str | None], default: tzinfo) -> tzinfo:
    if gd.get("zabbr"):
        return _UTC
    named = gd.get("zone")
    return (_zone_named(named) if named else None) or default


def _relative(gd: dict[str, str | None], now: datetime, default: tzinfo) -> datetime | None:
    total = timedelta()
    for amount, unit in _COMPONENT.findall(gd["dur"] or ""):
        count = 1.0 if amount.lower() in ("a", "an") else float(amount)
        total += count * _RELATIVE_UNITS[unit[0].lower()]
    # Added in UTC: adding to a zoned datetime would move its wall clock, wrong across DST.
    return now + total


def _num(gd: dict[str, str | None], key: str) -> int:
    """A group the pattern guarantees when its alternative matched, as a number."""
    value = gd.get(key)
    return int(value) if value else 0


def _iso(gd: dict[str, str | None], now: datetime, default: tzinfo) -> datetime | None:
    frac = (gd["ifrac"] or "")[:6].ljust(6, "0")
    naive = datetime(_num(gd, "iy"), _num(gd, "imo"), _num(gd, "id"), _num(gd, "ih"),
                     _num(gd, "imi"), _num(gd, "is"), int(frac))
    offset = (gd["ioff"] or "").replace(":", "")
    if not offset:
        return naive.replace(tzinfo=_zone_of(gd, default))
    if offset.lower() == "z":
        return naive.replace(tzinfo=_UTC)
    sign = -1 if offset[0] == "-" else 1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5] or 0))
    return naive.replace(tzinfo=timezone(sign * delta))


def _clock(gd: dict[str, str | None]) -> time | None:
    """The wall-clock time of a match; midnight for a date alone; ``None`` if out of range."""
    word = (gd.get("word") or "").lower()
    if word:
        return time(12) if word == "noon" else time(0)
    if gd.get("h") is None:
        return time(0)
    hour, minute = int(gd["h"] or 0), int(gd.get("mi") or 0)
    meridiem = (gd.get("ap") or gd.get("ap2") or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


STALE_WINDOW = timedelta(hours=6)


def _absolute(gd: dict[str, str | None], now: datetime, default: tzinfo) -> datetime | None:
    clock = _clock(gd)
    if clock is None:
        return None
    zone = _zone_of(gd, default)
    today = now.astimezone(zone).date()
    month, day = gd.get("mon") or gd.get("mon2"), gd.get("day") or gd.get("day2")
    time_only = False
    if month and day:
        number, dom = _MONTHS[month[:3].lower()], int(day)
        if gd.get("year"):
            return _wall(date(_num(gd, "year"), number, dom), clock, zone)
        days: list[Callable[[], date]] = [functools.partial(date, today.year + k, number, dom) for k in (-1, 0, 1)]
        window = timedelta(days=184)
    else:
        wd = gd.get("wd")
        if wd:
            weekday = _WEEKDAYS[wd[:3].lower()]
            shifts = [k for k in range(-4, 5) if (today.weekday() + k) % 7 == weekday]
            window = timedelta(days=4)
        else:
            shifts = [-1, 0, 1]
            time_only = True
            window = timedelta(hours=19)
        days = [functools.partial(operator.add, today, timedelta(days=k)) for k in shifts]
    instants = []
    for make_day in days:
        try:
            instants.append(_wall(make_day(), clock, zone))
        except (ValueError, OverflowError):  # Feb 29 in a common year, or past date.max
            continue
    if not instants:
        return None
    if time_only:
        # A banner announces a coming reset, so a bare clock time is its next occurrence — unless
        # that time passed less than STALE_WINDOW ago: then the banner is stale (the reset is
        # over). "3:28 PM" seen at 03:00 is 12.5 h ahead, not 11.5 h behind.
        ahead = [t for t in instants if t > now - STALE_WINDOW]
        return min(ahead) if ahead else None
    # Nearest to now; on an exact tie the future one, since a banner announces a coming reset.
    best = min(instants, key=lambda t: (abs(t - now), t < now))
    return best if abs(best - now) <= window else None


def _wall(on: date, clock: time, zone: tzinfo) -> datetime:
    # fold=0: the earlier instant in a fall-back overlap, the pre-transition offset in a gap.
    return datetime.combine(on, clock, tzinfo=zone).astimezone(_UTC)


_EVALUATORS = {"iso": _iso, "relative": _relative, "absolute": _absolute}
