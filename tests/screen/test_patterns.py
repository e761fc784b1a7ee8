"""Screen patterns as data: the per-version tables of data/screens, how a version picks its table,
and how a backend's overrides are laid over it."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_orchestrator.config.schema import BackendConfig, DialogConfig
from agent_orchestrator.screen.patterns import (
    CLAUDE,
    CODEX,
    NEVER,
    OVERRIDABLE,
    PATTERNS,
    SCREENS_DIR,
    TABLES,
    Dialog,
    ScreenPatterns,
    ScreenTableError,
    load_tables,
    parse_version,
    patterns_for,
    screen_patterns,
    table_for,
)

DATA = SCREENS_DIR.parent


# --- the bundled tables ------------------------------------------------------------------------

def test_one_data_file_per_cli_with_a_table_per_checked_version() -> None:
    assert sorted(p.name for p in SCREENS_DIR.glob("*.toml")) == ["claude.toml", "codex.toml"]
    assert {cli: [t.version for t in tables] for cli, tables in TABLES.items()} == {
        "claude": ["2.1.197", "2.1.332"],
        "codex": ["0.169.0", "0.171.0"],
    }
    assert PATTERNS == {"claude": CLAUDE, "codex": CODEX}
    assert CLAUDE is TABLES["claude"][-1].patterns and CODEX is TABLES["codex"][-1].patterns


@pytest.mark.parametrize("table", [t for tables in TABLES.values() for t in tables], ids=lambda t: f"{t.cli}-{t.version}")
def test_every_table_says_which_screens_it_was_checked_against(table) -> None:  # type: ignore[no-untyped-def]
    product = {"claude": "Claude Code", "codex": "Codex CLI"}[table.cli]
    assert table.checked_against.startswith(f"{product} {table.version}: ")
    (folder,) = re.findall(r"data/(captures[\w-]*)", table.checked_against)
    count = int(re.search(rf"the (\d+) {table.cli} captures", table.checked_against).group(1))  # type: ignore[union-attr]
    labels = list((DATA / folder).glob(f"{table.cli}-*.json"))
    assert len(labels) == count
    assert all(f'"version": "{table.version}"' in p.read_text(encoding="utf-8") for p in labels)


def test_a_table_inherits_what_it_does_not_change() -> None:
    old, new = patterns_for("claude", "2.1.197"), patterns_for("claude", "2.1.332")
    assert old is not None and new is not None
    assert (new.active_re, new.input_re, new.done_re, new.error_re) == (old.active_re, old.input_re, old.done_re, old.error_re)
    assert (old.chrome_re, new.retry_re != old.retry_re) == (None, True)
    codex_old, codex_new = patterns_for("codex", "0.169.0"), patterns_for("codex", "0.171.0")
    assert codex_old is not None and codex_new is not None
    assert codex_new.silent_streaming and codex_new.done_re == codex_old.done_re


def test_a_list_of_alternatives_is_one_regex() -> None:
    assert CLAUDE.placeholder_re == (
        "^Press up to edit queued messages$|^Resend your message to try again$|^Once fixed, resend your message$")


# --- which table applies -------------------------------------------------------------------------

@pytest.mark.parametrize(("cli", "version", "table"), [
    ("claude", "", "2.1.332"),
    ("claude", "2.1.332", "2.1.332"),
    ("claude", "2.1.400", "2.1.332"),
    ("claude", "3.0", "2.1.332"),
    ("claude", "2.1.331", "2.1.197"),
    ("claude", "2.1.197", "2.1.197"),
    ("claude", "2.1.9", "2.1.197"),    # older than every table: the oldest
    ("claude", "v2.1.332-beta.1", "2.1.332"),
    ("codex", "0.170.9", "0.169.0"),
    ("codex", "0.171.0", "0.171.0"),
    ("codex", "", "0.171.0"),
])
def test_a_table_applies_from_its_version_to_the_next(cli: str, version: str, table: str) -> None:
    found = table_for(cli, version)
    assert found is not None and found.version == table
    assert patterns_for(cli, version) is found.patterns


def test_unknown_cli_and_bad_version() -> None:
    assert table_for("gemini", "1.0") is None and patterns_for("gemini") is None
    with pytest.raises(ValueError, match="not a version"):
        table_for("claude", "latest")


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4))
def test_table_for_picks_the_last_table_at_or_below_the_version(parts: list[int]) -> None:
    version = ".".join(map(str, parts))
    assert parse_version(version) == tuple(parts)
    for cli, tables in TABLES.items():
        chosen = table_for(cli, version)
        assert chosen is not None
        at_or_below = [t for t in tables if t.since <= tuple(parts)]
        assert chosen is (at_or_below[-1] if at_or_below else tables[0])


@given(st.text(max_size=12))
def test_parse_version_never_raises(text: str) -> None:
    parsed = parse_version(text)
    assert parsed is None or all(isinstance(p, int) for p in parsed)


# --- loading a data file -----------------------------------------------------------------------

MINIMAL = """
    ["1.0"]
    checked_against = "Fake CLI 1.0: nothing"
    active_re = 'busy'
    input_re = '^> (.*)$'
    placeholder_re = ''
    retry_re = 'retry'
    error_re = 'error'
    limit_re = 'limit'
    fatal_re = ''
    done_re = ['^done', '^stopped']
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_load_tables_inherits_sorts_and_joins(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + """
    ["1.10"]
    checked_against = "Fake CLI 1.10"
    retry_re = ['retry', 'again']
    silent_streaming = true
    [["1.10".dialogs]]
    name = "trust"
    match = 'Trust\\?'
    choose = '^Yes'

    ["1.9"]
    checked_against = "Fake CLI 1.9"
    reply_re = '^< '
    """)
    tables = load_tables(path)
    assert [t.version for t in tables] == ["1.0", "1.9", "1.10"]  # by version, not by text
    first, middle, last = (t.patterns for t in tables)
    assert (first.placeholder_re, first.fatal_re, first.done_re, first.dialogs) == (None, None, "^done|^stopped", ())
    assert (middle.reply_re, last.reply_re, last.retry_re, last.silent_streaming) == ("^< ", "^< ", "retry|again", True)
    assert [(d.name, d.match_re, d.choose, d.keys) for d in last.dialogs] == [("trust", "Trust\\?", "^Yes", ())]


@pytest.mark.parametrize(("body", "message"), [
    (MINIMAL + "    activ_re = 'x'\n", r'fake.toml \["1.0"\].activ_re: unknown key'),
    (MINIMAL + "    retry_re = 'retry ('\n", r"Cannot overwrite|retry_re"),  # TOML: a key set twice
    (MINIMAL.replace("'retry'", "'retry ('"), r'\["1.0"\]: a regex does not compile'),
    (MINIMAL.replace("    limit_re = 'limit'\n", ""), r"missing required keys: limit_re$"),
    (MINIMAL.replace("'error'", "''"), r"error_re: a required pattern cannot be empty"),
    (MINIMAL.replace('["1.0"]', '["latest"]'), r'\["latest"\] is not a version table'),
    (MINIMAL + "    silent_streaming = 'yes'\n", r"silent_streaming: expected true or false"),
    (MINIMAL + "    [[\"1.0\".dialogs]]\n    name = 'x'\n", r"dialogs\[0\]: expected a table with match"),
    (MINIMAL + "    [[\"1.0\".dialogs]]\n    match = 'x('\n", r"dialogs\[0\].match: regex 'x\(' does not compile"),
    (MINIMAL + "    [[\"1.0\".dialogs]]\n    match = 'x'\n    choose = 'y('\n", r"dialogs\[0\].choose: regex 'y\(' does not compile"),
    (MINIMAL + "    [[\"1.0\".dialogs]]\n    match = 'x'\n    keys = ['Enter']\n", r"dialogs\[0\].keys: a table says which option to choose"),
    (MINIMAL + "    [[\"1.0\".dialogs]]\n    match = 'x'\n    choose = 1\n", r"dialogs\[0\].choose: expected a regex string"),
    (MINIMAL.replace('checked_against = "Fake CLI 1.0: nothing"', ""), r"checked_against is missing"),
    ("", r"no version tables"),
    ("[x", r"fake.toml"),
])
def test_load_tables_rejects_bad_data(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ScreenTableError, match=message):
        load_tables(write(tmp_path, body))


# --- a backend's patterns ----------------------------------------------------------------------

def backend(**values: object) -> BackendConfig:
    return BackendConfig(**{"bin": "claude", "screen": "claude", **values})  # type: ignore[arg-type]


def test_backend_gets_the_table_of_its_screen_version() -> None:
    assert screen_patterns(backend()).retry_re == CLAUDE.retry_re
    old = patterns_for("claude", "2.1.197")
    assert old is not None
    assert screen_patterns(backend(screen_version="2.1.197")).retry_re == old.retry_re
    assert screen_patterns(backend(screen_version="2.1.250")).chrome_re is None
    assert screen_patterns(backend(screen="codex", screen_version="0.169.0")).retry_re != CODEX.retry_re


def test_backend_without_dialogs_gets_the_tables_dialogs_but_no_permission_answer() -> None:
    # Every dialog of the table is detected; a permission prompt is not answered (no choice):
    # approving a tool call is the user's call.
    got = screen_patterns(backend())
    assert [d.name for d in got.dialogs] == [d.name for d in CLAUDE.dialogs]
    assert [d.name for d in got.dialogs] == ["api_key", "bypass", "trust", "theme", "login", "permission", "auto_mode", "question"]
    assert {d.name for d in got.dialogs if d.answered} == {"api_key", "bypass", "trust", "theme"}
    (permission,) = [d for d in got.dialogs if d.name == "permission"]
    assert (permission.choose, permission.keys) == ("", ())
    assert all(d.keys == () for d in got.dialogs)  # the tables say what to choose, never keys
    old = screen_patterns(backend(screen_version="2.1.197"))
    assert [(d.name, d.choose) for d in old.dialogs if d.name == "trust"] == [("trust", "^Yes, (?:I trust this folder|proceed)$")]
    # Everything else is the table's.
    assert dataclasses.replace(got, dialogs=CLAUDE.dialogs) == CLAUDE


def test_backend_dialogs_are_laid_over_the_tables_by_name() -> None:
    # A user's legacy `keys` dialog replaces the table's dialog of its name and is checked first.
    mine = backend(dialogs=[DialogConfig(match=r"Do you want to proceed\?", keys=["Enter"], name="permission")])
    dialogs = screen_patterns(mine).dialogs
    assert (dialogs[0].name, dialogs[0].match_re, dialogs[0].keys, dialogs[0].choose) == (
        "permission", r"Do you want to proceed\?", ("Enter",), "")
    assert [d.name for d in dialogs].count("permission") == 1
    assert {d.name for d in dialogs} == {d.name for d in CLAUDE.dialogs}
    # Without `match`, a dialog only says what to choose in the table's dialog of its name.
    hooks = screen_patterns(backend(screen="codex", dialogs=[DialogConfig(name="hooks", choose="^Trust all and continue$")]))
    (dialog,) = [d for d in hooks.dialogs if d.name == "hooks"]
    assert (dialog.match_re, dialog.choose) == ("Hooks need review", "^Trust all and continue$")
    assert hooks.dialogs[0] == dialog
    # A dialog of its own name with a match is added in front; the table's all stay.
    own = screen_patterns(backend(dialogs=[DialogConfig(match="Pick a plan", choose="^Free$", name="plan")]))
    assert own.dialogs[0] == Dialog("plan", "Pick a plan", choose="^Free$") and own.dialogs[1:] == screen_patterns(backend()).dialogs


def test_the_old_re_keys_still_override_and_the_screen_patterns_table_wins() -> None:
    got = screen_patterns(backend(active_re="working", limit_re="quota", fatal_re="dead", input_re=r"^>(.*)$"))
    assert (got.active_re, got.limit_re, got.fatal_re, got.input_re) == ("working", "quota", "dead", r"^>(.*)$")
    assert got.retry_re == CLAUDE.retry_re
    both = screen_patterns(backend(active_re="working", screen_patterns={"active_re": "thinking", "retry_re": "again"}))
    assert (both.active_re, both.retry_re) == ("thinking", "again")


def test_an_empty_override_turns_a_pattern_off() -> None:
    got = screen_patterns(backend(screen_patterns={"chrome_re": "", "placeholder_re": "", "retry_re": ""}))
    assert (got.chrome_re, got.placeholder_re, got.retry_re) == (None, None, NEVER)


def test_every_regex_field_can_be_overridden() -> None:
    assert set(OVERRIDABLE) == {f.name for f in dataclasses.fields(ScreenPatterns) if f.name.endswith("_re")}
    got = screen_patterns(backend(screen_patterns={name: f"x-{name}" for name in OVERRIDABLE}))
    assert all(getattr(got, name) == f"x-{name}" for name in OVERRIDABLE)


def test_a_backend_without_a_screen_uses_only_its_own_regexes() -> None:
    got = screen_patterns(BackendConfig(bin="demo", active_re="^demo: working", input_re=r"^demo>\s?(.*)$"))
    assert (got.active_re, got.input_re, got.retry_re, got.dialogs) == ("^demo: working", r"^demo>\s?(.*)$", NEVER, ())
    assert screen_patterns(BackendConfig(bin="x", screen_patterns={"retry_re": "again"})).retry_re == "again"


def test_a_backend_like_object_without_the_new_keys_still_works() -> None:
    # Callers (and their tests) may pass any object with the old attributes.
    old_style = SimpleNamespace(screen="", active_re="^demo: working", input_re=r"^demo>\s?(.*)$", limit_re="",
                                fatal_re="", dialogs=[], process_name=["python"])
    assert screen_patterns(old_style).active_re == "^demo: working"  # type: ignore[arg-type]
