"""What an agent CLI's screen looks like: the regexes the pane-state detectors in `screen` use.

Every pattern is a Python `re` pattern *string* so a user can override it from TOML; strings are
compiled once through `compiled` (an LRU cache, `re.MULTILINE`, so `^`/`$` anchor at each line).
Patterns are applied to one screen line at a time, except `Dialog.match_re`, which is searched
in the joined text of the bottom of the screen (so it may span lines).

The built-in sets are data, not code: `agent_orchestrator/data/screens/<cli>.toml` holds one
table per CLI version, loaded here into `ScreenPatterns` (`TABLES`). A table for version V
applies to V and later versions up to the next table (`table_for`); each table lists only what
changed since the one before it and says, in `checked_against`, which real screens it was
checked against:

- `claude.toml`: `2.1.197` (Claude Code 2.1.197, `data/captures`) and `2.1.332` (Claude Code
  2.1.332, `data/captures-2026-12`, fullscreen and classic renderer);
- `codex.toml`: `0.169.0` (Codex CLI 0.169.0, `data/captures`) and `0.171.0` (Codex CLI 0.171.0,
  `data/captures-2026-12`).

Lines marked "REFERENCE" in those files come from field notes or a corpus README only, because
no bundled capture shows them (usage limits, login and theme screens, some dialogs).

`screen_patterns(backend)` picks a backend's table from its `screen` and `screen_version` ("" =
the newest) and lays the backend's own overrides over it: the `active_re`, `input_re`,
`limit_re` and `fatal_re` keys, then its `[backend.<name>.screen_patterns]` table, and its
`dialogs`, laid over the table's by name (`merge_dialogs`).

A dialog says what to choose, not which keys answer it: `choose` is a regex naming the wanted
option's text, and the keys are worked out from the option list on screen (`screen.menu`), one
at a time, so a layout that moves the options around (Claude Code 2.1.332 lists `No, exit`
before `Yes, I trust this folder`; 2.1.197 the other way round) cannot make a fixed key
sequence choose the wrong one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_orchestrator.runtime.observation import SHELLS

if TYPE_CHECKING:
    from agent_orchestrator.config.schema import BackendConfig

__all__ = [
    "CLAUDE", "CODEX", "NEVER", "OVERRIDABLE", "PATTERNS", "PROCESS_NAMES", "SCREENS_DIR", "TABLES", "Dialog",
    "PatternTable", "ScreenPatterns", "ScreenTableError", "compiled", "load_tables", "merge_dialogs", "parse_version",
    "patterns_for", "screen_patterns", "table_for",
]


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled with `re.MULTILINE`, cached; raises `re.error` if it is not a regex."""
    return re.compile(pattern, re.MULTILINE)


@dataclass(frozen=True)
class Dialog:
    """A question the CLI blocks on until someone answers it.

    `name` is a short id ("trust", "api_key", "bypass", "theme", "permission", "login",
    "auto_mode", "question", "hooks"). `match_re` is searched in the joined lines below the last
    input line while the dialog is up. `choose` is a regex naming the option to choose (searched
    in each option's text, see `screen.menu`): the cursor is moved onto the one option it
    matches, then Enter confirms it. "" means nobody answers it automatically: a person must.
    `keys` are fixed tmux key names (`send-keys` syntax) sent blindly, for a user-defined dialog
    without `choose` (the way dialogs were answered before `choose`; the bundled tables never
    use it). Raises `re.error` at construction if `match_re` or `choose` does not compile.
    """

    name: str
    match_re: str
    keys: tuple[str, ...] = ()
    choose: str = ""

    def __post_init__(self) -> None:
        compiled(self.match_re)
        if self.choose:
            compiled(self.choose)

    @property
    def answered(self) -> bool:
        """Whether the dialog is answered automatically (by `choose`, or by fixed `keys`)."""
        return bool(self.choose or self.keys)


@dataclass(frozen=True)
class ScreenPatterns:
    """How one agent CLI draws its states; see the module docstring for how patterns apply.

    - `active_re`: working right now, on the status lines just above the input line or in the
      footer below it (spinner, `esc to interrupt`, a running tool).
    - `input_re`: the input line; group 1 is its content. The bottom-most match is the live one.
    - `placeholder_re`: input content that is a placeholder, not typed text (None: no placeholder).
    - `retry_re`: an automatic retry in progress, on the status lines.
    - `error_re`: the latest turn ended with an API error (searched in the latest turn).
    - `limit_re`: a subscription usage-limit banner (latest turn; `limits.find_limit` parses it).
    - `fatal_re`: an error that only a fresh restart (or a human) fixes (None: never).
    - `done_re`: a finished (or interrupted) turn, on the status lines.
    - `dialogs`: known blocking questions, checked in order.
    - `shell_commands`: `pane_current_command` values meaning the CLI exited to its shell.
    - `reply_re`: the start of an agent reply block; shows a turn has started even when the
      user's prompt has scrolled off (None: only a prompt line shows it).
    - `silent_streaming`: True when the CLI draws no busy marker while text streams (Codex
      0.169), so a started turn with neither an active nor a done marker counts as busy.
    - `chrome_re`: UI lines drawn between the transcript and the input box that belong to no
      turn (Claude Code 2.1.332's right-aligned `◐ medium · /effort`); skipped when the status
      lines and the reply's last line are read (None: no such lines).

    Raises `re.error` at construction if any pattern does not compile, so a bad override in a
    config file fails when it is loaded, not on the first screen.
    """

    active_re: str
    input_re: str
    placeholder_re: str | None
    retry_re: str
    error_re: str
    limit_re: str
    fatal_re: str | None
    done_re: str
    dialogs: tuple[Dialog, ...]
    shell_commands: frozenset[str] = SHELLS
    reply_re: str | None = None
    silent_streaming: bool = False
    chrome_re: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_re") and value is not None:
                compiled(value)


# "(?!)" never matches (an empty regex would match every line).
NEVER = "(?!)"
_FIELDS = {f.name: f for f in fields(ScreenPatterns)}
# Patterns that may be None (off); the other regex fields are required.
_OPTIONAL = frozenset(name for name, f in _FIELDS.items() if name.endswith("_re") and "None" in str(f.type))
_REQUIRED = tuple(name for name, f in _FIELDS.items()
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
# The fields a config may override with a regex string (`[backend.<name>.screen_patterns]`).
OVERRIDABLE: tuple[str, ...] = tuple(name for name in _FIELDS if name.endswith("_re"))


class ScreenTableError(ValueError):
    """A screen-pattern data file that cannot be used (the message names the file and table)."""


@dataclass(frozen=True)
class PatternTable:
    """One version's table of a CLI's data file: the CLI version from which it applies, what it
    was checked against, and the complete (inherited and overridden) patterns."""

    cli: str
    version: str
    since: tuple[int, ...]
    checked_against: str
    patterns: ScreenPatterns


_VERSION_RE = re.compile(r"^v?(\d+(?:\.\d+)*)(?:[-+][0-9A-Za-z.+-]*)?$")


def parse_version(text: str) -> tuple[int, ...] | None:
    """`"2.1.332"` → `(2, 1, 332)`; a leading `v` and a `-pre`/`+build` tail are allowed.

    Returns None when `text` is not a version.

    >>> parse_version("2.1.332"), parse_version("v0.171.0-alpha.2"), parse_version("latest")
    ((2, 1, 332), (0, 171, 0), None)
    """
    m = _VERSION_RE.match(text.strip())
    return tuple(int(part) for part in m.group(1).split(".")) if m else None


def _regex(value: Any, where: str) -> str:
    """A data-file regex: a string, or a list of alternatives joined with `|`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return "|".join(value)
    raise ScreenTableError(f"{where}: expected a regex string or a non-empty list of them, got {value!r}")


def _dialogs(value: Any, where: str) -> tuple[Dialog, ...]:
    if not isinstance(value, list):
        raise ScreenTableError(f"{where}: expected an array of tables [[…dialogs]], got {value!r}")
    out = []
    for i, item in enumerate(value):
        spot = f"{where}[{i}]"
        if isinstance(item, dict) and "keys" in item:
            raise ScreenTableError(f"{spot}.keys: a table says which option to choose (choose = \"<regex>\"), not which keys")
        if not isinstance(item, dict) or set(item) - {"name", "match", "choose"} or "match" not in item:
            raise ScreenTableError(f"{spot}: expected a table with match, name and choose, got {item!r}")
        choose = item.get("choose", "")
        if not isinstance(choose, str):
            raise ScreenTableError(f"{spot}.choose: expected a regex string (\"\" = a person answers), got {choose!r}")
        match = _regex(item["match"], f"{spot}.match")
        try:
            compiled(choose)
        except re.error as exc:
            raise ScreenTableError(f"{spot}.choose: regex {choose!r} does not compile: {exc}") from None
        try:
            out.append(Dialog(str(item.get("name") or match), match, choose=choose))
        except re.error as exc:
            raise ScreenTableError(f"{spot}.match: regex {match!r} does not compile: {exc}") from None
    return tuple(out)


def _table_values(table: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """(checked_against, ScreenPatterns keyword values) of one version's table."""
    values: dict[str, Any] = {}
    checked = ""
    for key, value in table.items():
        spot = f"{where}.{key}"
        if key == "checked_against":
            if not isinstance(value, str):
                raise ScreenTableError(f"{spot}: expected a string")
            checked = value
        elif key == "dialogs":
            values[key] = _dialogs(value, spot)
        elif key == "shell_commands":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ScreenTableError(f"{spot}: expected a list of command names, got {value!r}")
            values[key] = frozenset(value)
        elif key == "silent_streaming":
            if not isinstance(value, bool):
                raise ScreenTableError(f"{spot}: expected true or false, got {value!r}")
            values[key] = value
        elif key in OVERRIDABLE:
            regex = _regex(value, spot)
            if not regex and key not in _OPTIONAL:
                raise ScreenTableError(f"{spot}: a required pattern cannot be empty")
            values[key] = regex or None
        else:
            raise ScreenTableError(f"{spot}: unknown key (known: checked_against, {', '.join(_FIELDS)})")
    if not checked.strip():
        raise ScreenTableError(f"{where}: checked_against is missing (which CLI version's screens the table was checked against)")
    return checked, values


def load_tables(path: Path) -> tuple[PatternTable, ...]:
    """The version tables of one CLI's data file (`<cli>.toml`), oldest first.

    Each table starts from the one before it (the first from nothing, so it must give every
    required field) and overrides the keys it sets; each must say what it was `checked_against`.
    Raises `ScreenTableError` for a file that does not parse, a table name that is not a
    version, an unknown or missing key, a bad value or a regex that does not compile.
    """
    cli = path.stem
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScreenTableError(f"{path}: {exc}") from None
    versions: list[tuple[tuple[int, ...], str, dict[str, Any]]] = []
    for name, table in raw.items():
        since = parse_version(name)
        if since is None or not isinstance(table, dict):
            raise ScreenTableError(f'{path}: ["{name}"] is not a version table such as ["1.2.3"]')
        versions.append((since, name, table))
    versions.sort(key=lambda item: item[0])
    tables: list[PatternTable] = []
    current: dict[str, Any] = {"dialogs": ()}
    for key, name, table in versions:
        where = f'{path.name} ["{name}"]'
        checked, values = _table_values(table, where)
        current = {**current, **values}
        missing = [f for f in _REQUIRED if f not in current]
        if missing:
            raise ScreenTableError(f"{where}: missing required keys: {', '.join(missing)}")
        try:
            patterns = ScreenPatterns(**current)
        except re.error as exc:
            raise ScreenTableError(f"{where}: a regex does not compile: {exc}") from None
        tables.append(PatternTable(cli, name, key, checked, patterns))
    if not tables:
        raise ScreenTableError(f"{path}: no version tables")
    return tuple(tables)


SCREENS_DIR = Path(__file__).resolve().parent.parent / "data" / "screens"
TABLES: dict[str, tuple[PatternTable, ...]] = {path.stem: load_tables(path) for path in sorted(SCREENS_DIR.glob("*.toml"))}


def table_for(cli: str, version: str = "") -> PatternTable | None:
    """The table of `cli` that applies to `version` ("" = the newest), or None for an unknown cli.

    That is the last table whose version is <= `version`; a version older than every table gets
    the oldest. Raises ValueError when `version` is not a version string.
    """
    tables = TABLES.get(cli)
    if not tables:
        return None
    if not version:
        return tables[-1]
    wanted = parse_version(version)
    if wanted is None:
        raise ValueError(f"{version!r} is not a version such as {tables[-1].version!r}")
    chosen = tables[0]
    for table in tables:
        if table.since <= wanted:
            chosen = table
    return chosen


def patterns_for(cli: str, version: str = "") -> ScreenPatterns | None:
    """The built-in patterns of `cli` for `version` ("" = the newest table); None for an unknown cli."""
    table = table_for(cli, version)
    return table.patterns if table is not None else None


# The newest table of each CLI (what a backend with `screen_version = ""` gets).
PATTERNS: dict[str, ScreenPatterns] = {cli: tables[-1].patterns for cli, tables in TABLES.items()}
CLAUDE = PATTERNS["claude"]
CODEX = PATTERNS["codex"]

# `pane_current_command` while each CLI runs (Codex's launcher is a node script).
PROCESS_NAMES: dict[str, frozenset[str]] = {
    "claude": frozenset({"claude"}),
    "codex": frozenset({"node", "codex"}),
}


# A backend without a built-in screen set: only its own regexes apply.
_GENERIC = ScreenPatterns(
    active_re=NEVER, input_re=NEVER, placeholder_re=None, retry_re=NEVER, error_re=NEVER, limit_re=NEVER,
    fatal_re=None, done_re=NEVER, dialogs=(),
)
# Dialogs of a screen table that are detected but not answered unless the backend lists a dialog
# of that name: approving a tool call is the user's call.
_NOT_ANSWERED = frozenset({"permission"})
# (name, match, choose, keys) of a backend's own dialog.
_Own = tuple[str, str, str, tuple[str, ...]]


def merge_dialogs(table: Sequence[Dialog], own: Sequence[_Own]) -> tuple[Dialog, ...]:
    """A backend's dialogs: its own (checked first, in order), then the table's whose name none
    of its own has; a table permission prompt is kept without a choice (detected, not answered).

    An own dialog without `match` takes the match of the table's dialogs of its name (so
    `{name = "hooks", choose = "^Trust all"}` only sets what to choose); one with neither a
    `match` nor a table dialog of its name is dropped (the config loader reports it).
    """
    mine: list[Dialog] = []
    for name, match, choose, keys in own:
        if match:
            mine.append(Dialog(name or match, match, keys, choose))
        else:
            mine += [Dialog(name, d.match_re, keys, choose) for d in table if d.name == name]
    names = {d.name for d in mine}
    rest = [dataclasses.replace(d, choose="", keys=()) if d.name in _NOT_ANSWERED else d
            for d in table if d.name not in names]
    return (*mine, *rest)


@functools.lru_cache(maxsize=64)
def _patterns(screen: str, version: str, overrides: tuple[tuple[str, str], ...], dialogs: tuple[_Own, ...]) -> ScreenPatterns:
    base = patterns_for(screen, version) or _GENERIC
    changes: dict[str, Any] = {}
    for name, value in overrides:
        changes[name] = value or (None if name in _OPTIONAL else NEVER)
    changes["dialogs"] = merge_dialogs(base.dialogs, dialogs)
    return dataclasses.replace(base, **changes)


def screen_patterns(backend: BackendConfig) -> ScreenPatterns:
    """The detector patterns for `backend`.

    Its built-in `screen` set at `screen_version` ("" = the newest table; none for a backend
    without a `screen`), then its own `active_re`, `input_re`, `limit_re` and `fatal_re` where
    set (non-empty), then its `screen_patterns` table (field name → regex; "" turns an optional
    pattern off and makes a required one never match). Its dialogs are its own `dialogs` laid
    over the table's by name (`merge_dialogs`): a table's permission prompt is detected but only
    answered when the backend lists a dialog named "permission".
    """
    overrides = [(name, value) for name in ("active_re", "input_re", "limit_re", "fatal_re")
                 if (value := getattr(backend, name, ""))]
    overrides += sorted(dict(getattr(backend, "screen_patterns", None) or {}).items())
    dialogs = tuple((d.name, d.match, getattr(d, "choose", ""), tuple(d.keys)) for d in backend.dialogs)
    return _patterns(backend.screen, getattr(backend, "screen_version", "") or "", tuple(overrides), dialogs)
