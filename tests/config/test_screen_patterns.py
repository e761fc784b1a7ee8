"""Config keys for the screen tables: `screen_version` and `[backend.<name>.screen_patterns]`."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.config.presets import CLAUDE_PRESET, CODEX_PRESET
from agent_orchestrator.screen.patterns import CLAUDE, OVERRIDABLE, patterns_for, screen_patterns
from tests.config.test_load import errors, write

KNOWN = ", ".join(OVERRIDABLE)


def test_screen_patterns_table_overrides_the_screen_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [backend.claude]
        screen_version = "2.1.197"
        [backend.claude.screen_patterns]
        retry_re = 'retrying in \\d+s'
        chrome_re = '^\\s+◐ \\w+ · /effort$'
    """))
    backend = config.backends["claude"]
    assert backend.screen_version == "2.1.197"
    assert backend.screen_patterns == {"retry_re": r"retrying in \d+s", "chrome_re": r"^\s+◐ \w+ · /effort$"}
    got = screen_patterns(backend)
    old = patterns_for("claude", "2.1.197")
    assert old is not None
    assert (got.retry_re, got.chrome_re, got.done_re) == (r"retrying in \d+s", r"^\s+◐ \w+ · /effort$", old.done_re)


def test_the_old_re_keys_work_as_before(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [backend.claude]
        active_re = 'thinking'
        fatal_re = 'give up'
        [backend.mine]
        extends = "claude"
        active_re = 'pondering'
        [backend.mine.screen_patterns]
        fatal_re = 'halt'
    """))
    claude, mine = screen_patterns(config.backends["claude"]), screen_patterns(config.backends["mine"])
    assert (claude.active_re, claude.fatal_re, claude.input_re) == ("thinking", "give up", CLAUDE.input_re)
    assert (mine.active_re, mine.fatal_re) == ("pondering", "halt")  # the table wins over fatal_re


def test_screen_patterns_merge_key_by_key_through_extends(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [backend.claude.screen_patterns]
        retry_re = 'again'
        done_re = 'fin'
        [backend.mine]
        extends = "claude"
        [backend.mine.screen_patterns]
        done_re = 'over'
    """))
    assert config.backends["mine"].screen_patterns == {"retry_re": "again", "done_re": "over"}


def test_a_dialog_by_name_sets_what_to_choose(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [[backend.codex.dialogs]]
        name = "hooks"
        choose = "^Trust all and continue$"
        [[backend.claude.dialogs]]
        name = "permission"
        choose = "^Yes$"
        [[backend.claude.dialogs]]
        name = "setup"
        match = "Pick a setup"
        keys = ["Down", "Enter"]
    """))
    codex = {d.name: d for d in screen_patterns(config.backends["codex"]).dialogs}
    assert (codex["hooks"].match_re, codex["hooks"].choose) == ("Hooks need review", "^Trust all and continue$")
    claude = {d.name: d for d in screen_patterns(config.backends["claude"]).dialogs}
    assert claude["permission"].choose == "^Yes$" and claude["permission"].match_re == CLAUDE.dialogs[5].match_re
    assert (claude["setup"].keys, claude["setup"].choose) == (("Down", "Enter"), "")


def test_presets_take_their_screen_from_the_table(tmp_path: Path) -> None:
    for preset in (CLAUDE_PRESET, CODEX_PRESET):
        assert not {"active_re", "input_re", "limit_re", "fatal_re", "dialogs"} & set(preset)
    config = load_config(write(tmp_path, ""))
    claude = screen_patterns(config.backends["claude"])
    assert (claude.active_re, claude.retry_re, claude.placeholder_re) == (CLAUDE.active_re, CLAUDE.retry_re, CLAUDE.placeholder_re)
    assert {d.name for d in claude.dialogs if d.answered} == {"api_key", "bypass", "trust", "theme"}
    assert {d.name for d in screen_patterns(config.backends["codex"]).dialogs if d.answered} == {"trust"}


BAD = [
    ("bad regex", """
        [backend.claude.screen_patterns]
        retry_re = "retrying ("
     """, ['backend.claude.screen_patterns.retry_re: regex "retrying (" does not compile: '
           "missing ), unterminated subpattern at position 9"]),
    ("unknown key", """
        [backend.claude.screen_patterns]
        retyr_re = "again"
     """, [f'backend.claude.screen_patterns.retyr_re: unknown key (known: {KNOWN}); did you mean "retry_re"?']),
    ("not a pattern field", """
        [backend.codex.screen_patterns]
        dialogs = "trust"
     """, [f"backend.codex.screen_patterns.dialogs: unknown key (known: {KNOWN})"]),
    ("not a string", """
        [backend.claude.screen_patterns]
        active_re = 5
     """, ["backend.claude.screen_patterns.active_re: expected a string, got 5"]),
    ("not a table", """
        [backend.claude]
        screen_patterns = "active_re"
     """, ['backend.claude.screen_patterns: expected a table of strings, got "active_re"']),
    ("bad version", """
        [backend.claude]
        screen_version = "latest"
     """, ['backend.claude.screen_version: "latest" is not a version such as "2.1.332" ("" = the newest table)']),
    ("version without a screen set", """
        [backend.demo]
        screen_version = "1.0"
     """, ['backend.demo.screen_version: only for a backend with a built-in screen set (screen = "claude" or "codex")']),
    ("dialog with choose and keys", """
        [[backend.claude.dialogs]]
        name = "trust"
        choose = "^Yes"
        keys = ["Enter"]
     """, ["backend.claude.dialogs[0].keys: give choose (the option to choose) or keys, not both"]),
    ("dialog without match naming no table dialog", """
        [[backend.codex.dialogs]]
        name = "hook"
        choose = "^Trust all"
     """, ["backend.codex.dialogs[0].match: required unless name is a dialog of the screen table "
           "(the screen table's: hooks, login, permission, trust)"]),
    ("dialog choose that does not compile", """
        [[backend.codex.dialogs]]
        name = "hooks"
        choose = "^Trust all ("
     """, ['backend.codex.dialogs[0].choose: regex "^Trust all (" does not compile: missing ), unterminated subpattern at position 11']),
]


@pytest.mark.parametrize("body,expected", [(b, e) for _, b, e in BAD], ids=[n for n, _, _ in BAD])
def test_bad_screen_config_gives_exact_lines(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert errors(tmp_path, body) == expected
