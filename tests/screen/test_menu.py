"""The menu reader (`screen.menu`) over real dialog screens of both bundled corpora and the
first-run research screens (tests/screen/data, see its README), and over generated ones."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agent_orchestrator
from agent_orchestrator.screen.detect import UNKNOWN_DIALOG, PaneState, classify, patterns_for, read_dialog, screen_lines
from agent_orchestrator.screen.menu import Menu, moves, next_key, pick, plan_answer, read_menu

CORPORA = Path(agent_orchestrator.__file__).parent / "data"
DATA = Path(__file__).parent / "data"

TRUST_332 = ("No, exit", "Yes, I trust this folder")
TRUST_197 = ("Yes, I trust this folder", "No, exit")
API_KEY = ("Yes", "No (recommended)")
BYPASS = ("No, exit", "Yes, I accept")
CODEX_TRUST = ("Trust and continue", "Back to Agent Command Center")
HOOKS = ("Review hooks", "Trust all and continue", "Continue without trusting (hooks won't run)")


def lines_of(path: Path) -> list[str]:
    return screen_lines(path.read_text(encoding="utf-8"))


# (file, options, cursor, numbered); options None = only the cursor's option is checked
SCREENS: list[tuple[str, tuple[str, ...] | None, int, bool]] = [
    # data/captures: Claude Code 2.1.197, Codex CLI 0.169.0
    ("captures/claude-dialog-1", API_KEY, 1, True),
    ("captures/claude-dialog-4", BYPASS, 0, True),
    ("captures/claude-dialog-5", TRUST_197, 0, True),
    ("captures/claude-dialog-8", ("Yes", "Yes, and don’t ask again for: git commit *", "No"), 0, True),
    ("captures/codex-dialog-1", CODEX_TRUST, 0, True),
    ("captures/codex-dialog-3", ("Yes, proceed (y)",
                                 "Yes, and don't ask again for commands that start with `git commit --allow-empty -m 'claim(D3)'` (p)",
                                 "No, and tell Codex what to do differently (esc)"), 0, True),
    # data/captures-2026-12: Claude Code 2.1.332, Codex CLI 0.171.0
    ("captures-2026-12/claude-dialog-1", API_KEY, 1, False),
    ("captures-2026-12/claude-dialog-3", TRUST_332, 0, False),
    ("captures-2026-12/claude-dialog-5", ("Yes", "Yes, and don’t ask again for: git commit *",
                                          "Yes, and switch to auto mode · auto mode handles these prompts for you", "No"), 0, True),
    ("captures-2026-12/claude-dialog-7", ("Redis (Recommended)", "In-process LRU", "SQLite file", "Type something.", "Chat about this"),
     0, True),
    ("captures-2026-12/codex-dialog-1", CODEX_TRUST, 0, True),
    ("captures-2026-12/codex-dialog-3", ("Yes, proceed (y)",
                                         "Yes, and don't ask again for commands that start with `git tag deploy-marker-2026-12-06` (p)",
                                         "No, and tell Codex what to do differently (esc)"), 0, True),
    # research screens (tests/screen/data)
    ("data/claude-2.1.332-trust", TRUST_332, 0, False),
    ("data/claude-2.1.332-trust-after-Down", TRUST_332, 1, False),
    ("data/claude-2.1.332-trust-after-Down-Down", TRUST_332, 0, False),
    ("data/claude-2.1.332-api_key", API_KEY, 1, False),
    ("data/claude-2.1.332-api_key-after-Up", API_KEY, 0, False),
    ("data/claude-2.1.332-bypass", BYPASS, 0, False),
    ("data/claude-2.1.332-bypass-after-Down", BYPASS, 1, False),
    ("data/claude-2.1.197-trust", TRUST_197, 0, True),
    ("data/claude-2.1.197-api_key", API_KEY, 1, True),
    ("data/claude-2.1.197-bypass", BYPASS, 0, True),
    ("data/codex-0.169.0-trust", CODEX_TRUST, 0, True),
    ("data/codex-0.171.0-trust", CODEX_TRUST, 0, True),
    ("data/codex-0.169.0-hooks", HOOKS, 0, True),
    ("data/codex-0.171.0-hooks", HOOKS, 0, True),
    # a full-screen list after `1. Review hooks`: its header rows cannot be told from the options
    ("data/codex-0.171.0-hooks-review-list", None, 0, False),
]
NO_MENU = ["data/claude-2.1.332-first-prompt-after-Yes", "data/claude-2.1.332-not-logged-in-after-No",
           "data/codex-0.171.0-trust-after-2-command-center"]


def path_of(name: str) -> Path:
    folder, _, stem = name.partition("/")
    return (DATA if folder == "data" else CORPORA / folder) / f"{stem}.txt"


def test_the_table_covers_every_dialog_capture_of_both_corpora() -> None:
    listed = {name for name, *_ in SCREENS}
    for corpus in ("captures", "captures-2026-12"):
        for path in (CORPORA / corpus).glob("*dialog*.txt"):
            if not path.name.endswith(".ansi.txt"):
                assert f"{corpus}/{path.stem}" in listed, path


@pytest.mark.parametrize(("name", "options", "cursor", "numbered"), SCREENS, ids=[s[0] for s in SCREENS])
def test_read_menu_on_real_screens(name: str, options: tuple[str, ...] | None, cursor: int, numbered: bool) -> None:
    lines = lines_of(path_of(name))
    menu = read_menu(lines)
    assert menu is not None
    if options is None:
        assert menu.selected.startswith("PreToolUse") and len(menu.options) >= 8
        return
    assert (menu.options, menu.cursor, menu.numbered) == (options, cursor, numbered)
    assert [lines[row].strip().lstrip("❯›").strip().removeprefix(f"{i + 1}. ") for i, row in enumerate(menu.rows)] == list(options)
    assert menu.hint and menu.selected == options[cursor]


@pytest.mark.parametrize("name", NO_MENU)
def test_no_menu_where_no_dialog_is_up(name: str) -> None:
    assert read_menu(lines_of(path_of(name))) is None


def test_no_menu_on_any_other_capture_of_both_corpora() -> None:
    for corpus in ("captures", "captures-2026-12"):
        for path in (CORPORA / corpus).glob("*.txt"):
            if "dialog" not in path.name and not path.name.endswith(".ansi.txt"):
                assert read_menu(lines_of(path)) is None, path


# (file, cli version, dialog, the keys planned on it, one at a time)
ANSWERS = [
    ("data/claude-2.1.332-trust", "2.1.332", "trust", ("Down",)),
    ("data/claude-2.1.332-trust-after-Down", "2.1.332", "trust", ("Enter",)),
    ("data/claude-2.1.332-trust-after-Down-Down", "2.1.332", "trust", ("Down",)),
    ("data/claude-2.1.332-api_key", "2.1.332", "api_key", ("Up",)),
    ("data/claude-2.1.332-api_key-after-Up", "2.1.332", "api_key", ("Enter",)),
    ("data/claude-2.1.332-bypass", "2.1.332", "bypass", ("Down",)),
    ("data/claude-2.1.332-bypass-after-Down", "2.1.332", "bypass", ("Enter",)),
    ("data/claude-2.1.197-trust", "2.1.197", "trust", ("Enter",)),
    ("data/claude-2.1.197-api_key", "2.1.197", "api_key", ("Up",)),
    ("data/claude-2.1.197-bypass", "2.1.197", "bypass", ("Down",)),
    ("data/codex-0.169.0-trust", "0.169.0", "trust", ("Enter",)),
    ("data/codex-0.171.0-trust", "0.171.0", "trust", ("Enter",)),
    ("data/codex-0.169.0-hooks", "0.169.0", "hooks", ()),
    ("data/codex-0.171.0-hooks", "0.171.0", "hooks", ()),
    ("data/codex-0.171.0-hooks-review-list", "0.171.0", UNKNOWN_DIALOG, ()),
]


@pytest.mark.parametrize(("name", "version", "dialog", "keys"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_dialog_answers_follow_the_screen(name: str, version: str, dialog: str, keys: tuple[str, ...]) -> None:
    cli = name.split("/")[1].split("-")[0]
    patterns = patterns_for(cli, version)
    assert patterns is not None
    lines = lines_of(path_of(name))
    reading = read_dialog(lines, patterns)
    assert reading is not None and reading.name == dialog
    answer = reading.answer()
    assert answer.keys == keys
    if not keys:
        assert "a person must choose" in answer.person
    assert classify(lines, patterns, current_command=cli, process_names={cli, "node"}) == PaneState.DIALOG


def test_after_the_dialogs_no_dialog_is_read() -> None:
    patterns = patterns_for("claude", "2.1.332")
    assert patterns is not None
    for name in ("data/claude-2.1.332-first-prompt-after-Yes", "data/claude-2.1.332-not-logged-in-after-No"):
        assert read_dialog(lines_of(path_of(name)), patterns) is None


# --- moves --------------------------------------------------------------------------------------

def walk(count: int, cursor: int, keys: tuple[str, ...]) -> int:
    for key in keys:
        cursor = (cursor + (1 if key == "Down" else -1)) % count
    return cursor


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(0, n - 1))))
def test_moves_reach_the_wanted_option_the_short_way(case: tuple[int, int, int]) -> None:
    count, cursor, wanted = case
    way = moves(count, cursor, wanted)
    assert walk(count, cursor, way) == wanted
    assert len(set(way)) <= 1 and len(way) <= min(abs(wanted - cursor), count // 2 + 1)
    assert len(way) <= abs(wanted - cursor)  # never longer than going straight there
    if len(way) < abs(wanted - cursor):  # only a strictly shorter way wraps
        assert len(way) == min((wanted - cursor) % count, (cursor - wanted) % count)
    assert next_key(count, cursor, wanted) == (way[0] if way else "Enter")


def test_moves_rejects_a_cursor_off_the_list() -> None:
    with pytest.raises(ValueError):
        moves(2, 2, 0)


def test_pick_wants_exactly_one_option() -> None:
    assert pick(TRUST_332, "^Yes, I trust") == 1
    assert pick(("Yes", "Yes, and don't ask again", "No"), "^Yes") is None  # ambiguous
    assert pick(("Yes", "Yes, and don't ask again", "No"), "^Yes$") == 0
    assert pick(TRUST_332, "^Trust") is None and pick(TRUST_332, "") is None


def test_plan_answer_never_answers_blindly() -> None:
    assert plan_answer("trust", TRUST_332, 0, 1, "^Yes").keys == ("Down",)
    assert plan_answer("trust", TRUST_332, 1, 1, "^Yes").keys == ("Enter",)
    assert plan_answer("trust", (), None, None, "^Yes").person == "trust: its options could not be read (to choose /^Yes/)"
    assert plan_answer("trust", TRUST_332, 0, None, "^Yes, proceed").person == "trust: no single option matches /^Yes, proceed/"
    assert plan_answer("hooks", HOOKS, 0, None, "").person == "hooks: no automatic answer; a person must choose"
    # a user-defined dialog with fixed keys still gets them
    legacy = plan_answer("mine", (), None, None, "", ("Down", "Enter"))
    assert (legacy.keys, legacy.confirm, legacy.person) == (("Down", "Enter"), True, "")


# --- generated screens ---------------------------------------------------------------------------

_WORD = st.text(string.ascii_letters + string.digits + ",()'’-", min_size=1, max_size=10)
_OPTION = st.lists(_WORD, min_size=1, max_size=5).map(" ".join)
_HINTS = ["Enter to confirm · Esc to cancel", "enter continue · esc back", "Press enter to confirm or esc to cancel",
          "Enter to select · ↑/↓ to navigate · Esc to cancel", "enter confirm · esc skip"]


@st.composite
def menus(draw: st.DrawFn) -> tuple[list[str], tuple[str, ...], int, bool]:
    options = tuple(draw(st.lists(_OPTION, min_size=2, max_size=7, unique=True)))
    cursor = draw(st.integers(0, len(options) - 1))
    numbered = draw(st.booleans())
    glyph = draw(st.sampled_from("❯›"))
    indent = " " * draw(st.integers(0, 4))
    # the question sits at the cursor's column (as in every real dialog), maybe a blank row above the list
    rows = [f"{indent}{draw(st.sampled_from(['Accessing workspace:', 'Do you want to use this API key?']))}"]
    rows += [""] * draw(st.integers(0, 1))
    for i, text in enumerate(options):
        label = f"{i + 1}. {text}" if numbered else text
        rows.append(f"{indent}{glyph} {label}" if i == cursor else f"{indent}  {label}")
        if numbered and draw(st.booleans()):
            rows.append(f"{indent}     {draw(_OPTION)}")  # a description row, indented deeper
    rows += [""] * draw(st.integers(0, 1)) + [f"{indent}{draw(st.sampled_from(_HINTS))}"] + [""] * draw(st.integers(0, 3))
    return rows, options, cursor, numbered


@settings(max_examples=300)
@given(menus())
def test_read_menu_reads_generated_dialogs(case: tuple[list[str], tuple[str, ...], int, bool]) -> None:
    rows, options, cursor, numbered = case
    menu = read_menu(rows)
    assert menu is not None
    assert (menu.options, menu.cursor, menu.numbered) == (options, cursor, numbered)


@settings(max_examples=300)
@given(menus())
def test_no_hint_no_menu(case: tuple[list[str], tuple[str, ...], int, bool]) -> None:
    rows = [row for row in case[0] if not any(hint in row for hint in _HINTS)]
    assert read_menu(rows) is None


@settings(max_examples=500)
@given(st.lists(st.lists(st.sampled_from([*" ❯›\u00a01.23abcYes─╌·\t", " Enter to confirm", " esc back"]), max_size=12).map("".join),
                max_size=25))
def test_read_menu_never_raises_and_is_consistent(rows: list[str]) -> None:
    menu = read_menu(rows)
    if menu is not None:
        assert isinstance(menu, Menu) and len(menu.options) >= 2 and 0 <= menu.cursor < len(menu.options)
        assert len(menu.rows) == len(menu.options) and list(menu.rows) == sorted(set(menu.rows))
        assert menu.rows[menu.cursor] == max(i for i, row in enumerate(rows) if re.match(r"[ \t]*[❯›][ \u00a0]+\S", row))
