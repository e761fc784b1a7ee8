"""The screen rules Claude Code 2.1.332 and Codex CLI 0.171.0 needed, one focused test each.

Screens are real captures of `data/captures-2026-12`, some with one line changed to show a
variant the corpus README describes. Each rule is also shown to be new: the table of the older
version (2.1.197, 0.169.0) misreads the same screen.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import agent_orchestrator
from agent_orchestrator.screen.detect import (
    PROCESS_NAMES,
    PaneState,
    ScreenPatterns,
    classify,
    find_dialog,
    input_content,
    is_pending,
    patterns_for,
    screen_lines,
    waiting_until,
)

CORPUS = Path(agent_orchestrator.__file__).parent / "data" / "captures-2026-12"


def _table(cli: str, version: str) -> ScreenPatterns:
    patterns = patterns_for(cli, version)
    assert patterns is not None
    return patterns


CLAUDE_332, CLAUDE_197 = _table("claude", "2.1.332"), _table("claude", "2.1.197")
CODEX_171, CODEX_169 = _table("codex", "0.171.0"), _table("codex", "0.169.0")
WHEN = datetime(2026, 12, 6, 18, tzinfo=UTC)
NBSP = "\u00a0"


def meta(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))


def screen(name: str) -> list[str]:
    return screen_lines((CORPUS / f"{name}.txt").read_text(encoding="utf-8"))


def swap(lines: list[str], old: str, new: list[str]) -> list[str]:
    """`lines` with the first line containing `old` replaced by the lines `new`."""
    i = next(i for i, line in enumerate(lines) if old in line)
    return [*lines[:i], *new, *lines[i + 1:]]


def state(lines: list[str], patterns: ScreenPatterns, status: str | None = None) -> PaneState:
    """`classify` while the CLI whose screen `patterns` reads runs (its own process in front)."""
    cli = "codex" if "›" in patterns.input_re else "claude"
    return classify(lines, patterns, current_command=min(PROCESS_NAMES[cli]), process_names=PROCESS_NAMES[cli],
                    session_status=status)


# --- Claude Code 2.1.332: placeholder text in the input box after a final error -----------------

@pytest.mark.parametrize("name,placeholder", [
    ("claude-api_error-1", "Resend your message to try again"),   # 429, final
    ("claude-api_error-3", "Resend your message to try again"),   # 529
    ("claude-api_error-7", "Resend your message to try again"),   # connection refused
    ("claude-api_error-5", "Once fixed, resend your message"),    # 401 Invalid API key
])
def test_error_placeholder_is_not_typed_input(name: str, placeholder: str) -> None:
    lines = screen(name)
    assert f"❯{NBSP}{placeholder}" in [line.rstrip() for line in lines]
    assert input_content(lines, CLAUDE_332) == ""
    assert not is_pending(lines, placeholder, CLAUDE_332)
    assert state(lines, CLAUDE_332) == PaneState.API_ERROR
    assert state(lines, CLAUDE_197) == PaneState.UNSUBMITTED_INPUT  # what the issue reported


def test_credit_balance_error_with_its_placeholder_is_an_api_error() -> None:
    # api_error-6 (not in the bundled sample): `⎿  Credit balance too low · Add funds: …` and
    # `❯ Once fixed, resend your message`.
    lines = swap(screen("claude-api_error-5"), "Invalid API key",
                 ["  ⎿  Credit balance too low · Add funds: https://platform.claude.com/settings/billing"])
    assert state(lines, CLAUDE_332) == PaneState.API_ERROR


@pytest.mark.parametrize("typed", [
    "Resend your message to try again later",   # only the whole placeholder is one
    "Resend the report to the team",
    "try again",
])
def test_text_typed_over_an_error_is_unsubmitted_input(typed: str) -> None:
    lines = swap(screen("claude-api_error-1"), "Resend your message", [f"❯{NBSP}{typed}"])
    assert input_content(lines, CLAUDE_332) == typed
    assert is_pending(lines, typed, CLAUDE_332)
    assert state(lines, CLAUDE_332) == PaneState.UNSUBMITTED_INPUT


def test_queued_message_placeholder_is_still_busy() -> None:
    # busy-6 (not in the sample): a follow-up queued while text streams.
    lines = swap(screen("claude-busy-1"), "Please summarise", [
        "❯ Please summarise the open issues in the tracker.", "",
        "❯ Which test is flaky in the checker?", "  ⎿  Queued · ctrl+x ctrl+s to send now"])
    lines = swap(lines, "❯" + NBSP, [f"❯{NBSP}Press up to edit queued messages"])
    assert input_content(lines, CLAUDE_332) == ""
    assert state(lines, CLAUDE_332) == PaneState.BUSY


# --- Claude Code 2.1.332: lower-case retry lines that name the cause ----------------------------

RETRY_LINES = [
    ["✻ API error · retrying in 43s · attempt 1/10"],
    ["✻ API error · retrying in 50s · attempt 1/10"],
    ["✻ 429 This request would exceed your account's rate limit. Please try again later. · retrying in 5s · attempt 5/10"],
    ["✻ 529 Overloaded · retrying in 8s · attempt 5/10",
     "  ⎿  If it persists, check your inference gateway (127.0.0.1:18971)."],
    ["✻ 401 invalid x-api-key · retrying in 7s · attempt 5/10"],
    ["✻ Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED) · retrying in 10s · attempt 2/10"],
    ["✻ API error · Retrying in 42s · attempt 1/10"],  # the 2.1.197 wording still reads right
]


@pytest.mark.parametrize("retry", RETRY_LINES, ids=lambda r: r[0][:30])
def test_lower_case_retry_lines_are_retrying_not_busy(retry: list[str]) -> None:
    lines = swap(screen("claude-rate_limited_retrying-1"), "retrying in 43s", retry)
    assert any("esc to interrupt" in line for line in lines)  # the footer alone says busy
    assert state(lines, CLAUDE_332) == PaneState.RATE_LIMITED_RETRYING
    assert state(lines, CLAUDE_332, status="busy") == PaneState.RATE_LIMITED_RETRYING


def test_lower_case_retry_line_was_busy_to_the_old_table() -> None:
    assert state(screen("claude-rate_limited_retrying-1"), CLAUDE_197) == PaneState.BUSY


def test_reply_mentioning_retrying_is_not_a_retry() -> None:
    lines = swap(screen("claude-done_idle-1"), "● Nothing is left",
                 ["● The deploy failed; I am retrying in 5 minutes (attempt 2/3 of the script)."])
    assert state(lines, CLAUDE_332) == PaneState.DONE_IDLE


# --- Claude Code 2.1.332: the right-aligned `◐ medium · /effort` line above the box --------------

@pytest.mark.parametrize("name", ["claude-waiting_until-1", "claude-waiting_until-3"])
def test_effort_line_is_skipped_when_looking_for_waiting_until(name: str) -> None:
    lines = screen(name)
    effort = next(line for line in lines if line.rstrip().endswith("· /effort"))
    assert effort.startswith(" " * 100)  # right-aligned in the 200-column pane
    assert waiting_until(lines, CLAUDE_332) == WHEN
    assert state(lines, CLAUDE_332) == PaneState.WAITING_UNTIL
    assert waiting_until(lines, CLAUDE_197) is None  # what the issue reported: done_idle


@pytest.mark.parametrize("chrome", [
    " " * 180 + "◐ medium · /effort",
    " " * 182 + "● high · /effort",
    " " * 183 + "○ low · /effort",
    " " * 95 + "tmux focus-events off · add 'set -g focus-events on' to ~/.tmux.conf and reattach for focus tracking",
])
def test_any_chrome_line_above_the_box_is_skipped(chrome: str) -> None:
    lines = swap(screen("claude-waiting_until-1"), "· /effort", [chrome])
    assert waiting_until(lines, CLAUDE_332) == WHEN


def test_waiting_until_as_the_whole_reply_under_the_effort_line() -> None:
    # waiting_until-2 (not in the sample): the reply is the single WAITING-UNTIL line.
    lines = swap(screen("claude-done_idle-1"), "● Nothing is left", ["● WAITING-UNTIL: 2026-12-06T18:00:00Z"])
    assert waiting_until(lines, CLAUDE_332) == WHEN
    assert state(lines, CLAUDE_332) == PaneState.WAITING_UNTIL


def test_effort_line_takes_no_status_line() -> None:
    # The turn's state is read on the three non-blank lines above the box; the chrome line is
    # not one of them, so a retry line with two lines under it still counts.
    lines = swap(screen("claude-rate_limited_retrying-1"), "retrying in 43s",
                 ["✻ API error · retrying in 43s · attempt 1/10", "", "  ⎿  one", "  ⎿  two"])
    assert state(lines, CLAUDE_332) == PaneState.RATE_LIMITED_RETRYING
    no_chrome = dataclasses.replace(CLAUDE_332, chrome_re=None)
    assert state(lines, no_chrome) == PaneState.BUSY  # only the footer's `esc to interrupt` left


# --- Claude Code 2.1.332: the classic main-screen renderer still works ----------------------------

CLASSIC = sorted(p.stem for p in CORPUS.glob("claude-*.json")
                 if "CLAUDE_CODE_DISABLE_ALTERNATE_SCREEN" in meta(p.stem)["launch"]["extra_env"])


def test_the_sample_holds_classic_renderer_screens() -> None:
    assert CLASSIC == ["claude-busy-7", "claude-done_idle-5"]


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_renderer_screen_classifies(name: str) -> None:
    lines = screen(name)
    assert lines[0].startswith("root@devbox:") and "claude" in lines[0]  # drawn inline under bash
    assert any("⏵⏵" in line and line.rstrip().endswith("· /effort") for line in lines)  # effort in the footer
    assert state(lines, CLAUDE_332) == meta(name)["state"]
    assert state(lines, CLAUDE_332, status=meta(name)["session_status_json"]["status"]) == meta(name)["state"]


def test_classic_renderer_waiting_until_and_retry() -> None:
    done = screen("claude-done_idle-5")
    waiting = swap(done, "● The linter passed", ["● The linter passed.", "", "  WAITING-UNTIL: 2026-12-06T18:00:00Z"])
    assert state(waiting, CLAUDE_332) == PaneState.WAITING_UNTIL
    busy = screen("claude-busy-7")
    retrying = swap(busy, "Garnishing", ["✻ 529 Overloaded · retrying in 8s · attempt 5/10"])
    retrying = [line for line in retrying if "Bash(" not in line and "Running…" not in line and "background" not in line]
    assert state(retrying, CLAUDE_332) == PaneState.RATE_LIMITED_RETRYING
    placeholder = swap(swap(done, "● The linter passed", ["● API Error: 500 Internal server error."]),
                       "Brewed for", [""])
    placeholder = swap(placeholder, "❯" + NBSP, [f"❯{NBSP}Resend your message to try again"])
    assert state(placeholder, CLAUDE_332) == PaneState.API_ERROR


# --- Claude Code 2.1.332: new dialogs ----------------------------------------------------------

def test_ask_user_question_is_a_dialog_no_key_answers() -> None:
    lines = screen("claude-dialog-7")
    dialog = find_dialog(lines, CLAUDE_332)
    assert dialog is not None and (dialog.name, dialog.keys) == ("question", ())
    assert state(lines, CLAUDE_332) == PaneState.DIALOG  # from the screen alone
    assert meta("claude-dialog-7")["session_status_json"]["status"] == "waiting"


def test_auto_mode_dialog_is_detected_not_answered() -> None:
    # dialog-6 (not in the sample): plain `claude` in auto mode through a gateway.
    lines = swap(screen("claude-dialog-5"), "This command requires approval",
                 [" Auto mode can’t check actions in this session"])
    lines = [line for line in lines if "Do you want to proceed" not in line]
    dialog = find_dialog(lines, CLAUDE_332)
    assert dialog is not None and (dialog.name, dialog.keys) == ("auto_mode", ())


# --- Codex CLI 0.171.0 -------------------------------------------------------------------------

def test_codex_waiting_for_network_is_retrying() -> None:
    # rate_limited_retrying-6 (not in the sample): a refused connection.
    lines = swap(screen("codex-rate_limited_retrying-5"), "Reconnecting... 2/5",
                 ["◦ Reconnecting... waiting for network (8s • esc to interrupt)"])
    lines = swap(lines, "Unexpected status 503", ["  └ Connection failed: error sending request"])
    assert state(lines, CODEX_171) == PaneState.RATE_LIMITED_RETRYING
    assert state(lines, CODEX_169) == PaneState.BUSY


def test_codex_queued_follow_up_is_busy() -> None:
    # busy-6 (not in the sample): a follow-up queued with Tab pushes `Working` out of the
    # status lines; the queue itself says the turn runs.
    lines = swap(screen("codex-busy-1"), "• Working", [
        "• Working (20s • esc to interrupt)", "", "• Queued follow-up inputs",
        "  ↳ Which test is flaky in the checker?", "    shift+← edit last queued message"])
    without_fallback = dataclasses.replace(CODEX_171, silent_streaming=False)
    assert state(lines, without_fallback) == PaneState.BUSY
    assert state(lines, dataclasses.replace(CODEX_169, silent_streaming=False)) == PaneState.DONE_IDLE
    assert state(lines, CODEX_171) == PaneState.BUSY


def test_codex_turn_ended_with_a_background_terminal_is_done() -> None:
    # done_idle-6 (not in the sample): `1 background terminal running · …` under `Worked for`.
    lines = swap(screen("codex-done_idle-5"), "Worked for 12s", [
        "  Worked for 12s • 16:45", "  1 background terminal running · /ps to view · /stop to close"])
    assert state(lines, CODEX_171) == PaneState.DONE_IDLE


def test_codex_sign_in_screen_is_a_login_dialog() -> None:
    # dialog-4 (not in the sample, REFERENCE): the first-run sign-in screen.
    lines = ["", "  Welcome to Codex, OpenAI's command-line coding agent", "", "  Choose how you want to use Codex.", ""]
    dialog = find_dialog(lines, CODEX_171)
    assert dialog is not None and (dialog.name, dialog.keys) == ("login", ())


def test_codex_steered_turn_without_markers_is_busy() -> None:
    # Enter while a turn runs steers it: no `Working`, no `esc to interrupt` while the new
    # request waits; the silent-streaming rule says busy.
    lines = screen("codex-busy-7")
    assert not any("esc to interrupt" in line or "Working" in line for line in lines)
    assert state(lines, CODEX_171) == PaneState.BUSY
