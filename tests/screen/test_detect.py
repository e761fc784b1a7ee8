"""Pane-state detectors against the bundled real captures and synthetic edge cases.

Two corpora are bundled: `data/captures` (Claude Code 2.1.197, Codex CLI 0.169.0) and
`data/captures-2026-12` (Claude Code 2.1.332, Codex CLI 0.171.0). A capture is named by its
folder and file stem ("captures-2026-12/claude-idle-1"); a bare stem means the older corpus.
Every capture is read with the screen table of its labelled version.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import agent_orchestrator
from agent_orchestrator.screen.detect import (
    CLAUDE,
    CODEX,
    PATTERNS,
    PROCESS_NAMES,
    Dialog,
    DialogReading,
    PaneState,
    ScreenPatterns,
    bundled_corpora,
    check_captures,
    classify,
    find_dialog,
    input_content,
    is_fatal,
    is_pending,
    patterns_for,
    read_dialog,
    screen_lines,
    strip_ansi,
    waiting_until,
)
from tests.conftest import SHARED_CAPTURES

DATA = Path(agent_orchestrator.__file__).parent / "data"
OLD, NEW = "captures", "captures-2026-12"
CORPORA = {OLD: 46, NEW: 55}  # bundled folder -> number of labelled captures
CAPTURES = DATA / OLD


def _stems(corpus: str) -> list[str]:
    return sorted(p.stem for p in (DATA / corpus).glob("*.json"))


NAMES = _stems(OLD)  # the older corpus, by bare stem
ALL = [f"{corpus}/{stem}" for corpus in CORPORA for stem in _stems(corpus)]
ANSI = [f"{corpus}/{p.name.removesuffix('.ansi.txt')}" for corpus in CORPORA for p in sorted((DATA / corpus).glob("*.ansi.txt"))]


def where(name: str) -> Path:
    """The files of capture `name` without suffix: "<corpus>/<stem>" or a bare stem (older corpus)."""
    corpus, _, stem = name.rpartition("/")
    return DATA / (corpus or OLD) / stem


def meta(name: str) -> dict[str, Any]:
    return json.loads(where(name).with_suffix(".json").read_text(encoding="utf-8"))


def screen(name: str) -> list[str]:
    return screen_lines(where(name).with_suffix(".txt").read_text(encoding="utf-8"))


def table(name: str) -> ScreenPatterns:
    """The screen table of the capture's labelled CLI version."""
    m = meta(name)
    patterns = patterns_for(m["cli"], m["version"])
    assert patterns is not None
    return patterns


def of_state(state: str, cli: str | None = None, names: list[str] = NAMES) -> list[str]:
    return [n for n in names if meta(n)["state"] == state and (cli is None or meta(n)["cli"] == cli)]


def live_status(m: dict[str, Any]) -> str | None:
    status = m.get("session_status_json")
    return status["status"] if isinstance(status, dict) and not m.get("session_status_stale") else None


def classify_as(lines: list[str], cli: str, command: str | None = None,
                status: str | None = None, patterns: ScreenPatterns | None = None) -> PaneState:
    """`classify` with `patterns` (default: the CLI's newest table); `command` defaults to the
    CLI's own process name."""
    return classify(lines, patterns or PATTERNS[cli], current_command=command or min(PROCESS_NAMES[cli]),
                    process_names=PROCESS_NAMES[cli], session_status=status)


def classify_capture(name: str, *, status: bool = True, patterns: ScreenPatterns | None = None) -> PaneState:
    m = meta(name)
    return classify_as(screen(name), m["cli"], m["pane_current_command"], live_status(m) if status else None,
                       patterns or table(name))


# --- the corpora -------------------------------------------------------------------------------

@pytest.mark.parametrize("corpus", CORPORA)
def test_bundled_corpus_is_a_full_copy_of_the_shared_one(corpus: str) -> None:
    assert len(_stems(corpus)) == CORPORA[corpus]
    shared_dir = SHARED_CAPTURES.parent / corpus
    if not shared_dir.is_dir():
        pytest.skip(f"shared/{corpus} is not beside this checkout")
    shared = {p.name: p.read_bytes() for p in shared_dir.iterdir()}
    bundled = {p.name: p.read_bytes() for p in (DATA / corpus).iterdir()}
    assert bundled == shared


def test_selftest_checks_every_bundled_corpus() -> None:
    assert [p.name for p in bundled_corpora()] == list(CORPORA)


@pytest.mark.parametrize("corpus,versions", [(OLD, {"claude": "2.1.197", "codex": "0.169.0"}),
                                             (NEW, {"claude": "2.1.332", "codex": "0.171.0"})])
def test_each_corpus_is_one_cli_version_each(corpus: str, versions: dict[str, str]) -> None:
    assert {meta(f"{corpus}/{stem}")["cli"]: meta(f"{corpus}/{stem}")["version"] for stem in _stems(corpus)} == versions


@pytest.mark.parametrize("name", ALL)
def test_capture_classifies_to_its_label(name: str) -> None:
    assert classify_capture(name) == meta(name)["state"], meta(name)["detail"]


@pytest.mark.parametrize("name", [n for n in ALL if not meta(n).get("visually_identical_to")])
def test_screen_alone_classifies_capture(name: str) -> None:
    assert classify_capture(name, status=False) == meta(name)["state"], meta(name)["detail"]


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith(OLD + "/")])
def test_newest_tables_still_read_the_older_screens(name: str) -> None:
    # Both versions stay supported by the default (newest) tables too: a backend left at
    # screen_version = "" keeps working on Claude Code 2.1.197 and Codex 0.169.0.
    m = meta(name)
    assert classify_capture(name, patterns=PATTERNS[m["cli"]]) == m["state"], m["detail"]
    if not m.get("visually_identical_to"):
        assert classify_capture(name, status=False, patterns=PATTERNS[m["cli"]]) == m["state"], m["detail"]


@pytest.mark.parametrize("name", ANSI)
def test_ansi_variant_classifies_like_the_plain_capture(name: str) -> None:
    m = meta(name)
    lines = screen_lines(strip_ansi(where(name).with_suffix(".ansi.txt").read_text(encoding="utf-8")))
    assert "\x1b" not in "".join(lines)
    assert classify_as(lines, m["cli"], m["pane_current_command"], live_status(m), table(name)) == m["state"]


@pytest.mark.parametrize("corpus", CORPORA)
def test_check_captures_reports_every_capture_ok(corpus: str) -> None:
    results = check_captures(DATA / corpus)
    assert [r.name for r in results] == _stems(corpus)
    assert [r for r in results if not r.ok] == []
    assert {r.cli for r in results} == {"claude", "codex"}


def test_check_captures_reads_each_capture_with_its_versions_table(tmp_path: Path) -> None:
    # A 2.1.332 retry line is only read right by the 2.1.332 table: relabel the version and the
    # same screen fails.
    name = f"{NEW}/claude-rate_limited_retrying-1"
    (tmp_path / "a.txt").write_bytes(where(name).with_suffix(".txt").read_bytes())
    m = meta(name)
    (tmp_path / "a.json").write_text(json.dumps(m))
    (tmp_path / "b.txt").write_bytes(where(name).with_suffix(".txt").read_bytes())
    (tmp_path / "b.json").write_text(json.dumps({**m, "version": "2.1.197"}))
    (tmp_path / "c.txt").write_text("❯ \n")
    (tmp_path / "c.json").write_text(json.dumps({"cli": "claude", "state": "idle", "version": "latest"}))
    a, b, c = check_captures(tmp_path)
    assert a.ok and (b.ok, b.got) == (False, "busy")
    assert not c.ok and c.got is None and "bad version" in c.reason


def test_check_captures_flags_unknown_cli_and_missing_screen(tmp_path: Path) -> None:
    (tmp_path / "gemini-idle-1.json").write_text(json.dumps({"cli": "gemini", "state": "idle"}))
    (tmp_path / "gemini-idle-1.txt").write_text("> \n")
    (tmp_path / "claude-idle-9.json").write_text(json.dumps({"cli": "claude", "state": "idle"}))
    results = {r.name: r for r in check_captures(tmp_path)}
    assert not results["gemini-idle-1"].ok and "unknown cli" in results["gemini-idle-1"].reason
    assert not results["claude-idle-9"].ok and "missing" in results["claude-idle-9"].reason
    assert results["gemini-idle-1"].got is None


@pytest.mark.parametrize("name", ["claude-exited_to_shell-5", f"{NEW}/claude-exited_to_shell-5"])
def test_stale_session_status_is_not_trusted_by_check_captures(tmp_path: Path, name: str) -> None:
    # The SIGKILL capture's stale file still says "idle" or "busy"; its label comes from the shell.
    for suffix in (".txt", ".json"):
        (tmp_path / f"x{suffix}").write_bytes(where(name).with_suffix(suffix).read_bytes())
    assert meta(name)["session_status_stale"] is True
    (result,) = check_captures(tmp_path)
    assert result.ok and result.got == "exited_to_shell"


# --- dialogs -----------------------------------------------------------------------------------

def expected_dialog(m: dict[str, Any]) -> str:
    """The dialog a capture's launch provoked, read off its metadata."""
    omitted = " ".join(m["launch"]["omitted_config"]).lower()
    for marker, name in (("apikey", "api_key"), ("bypass", "bypass"), ("trust", "trust"),
                         ("hascompletedonboarding", "theme"), ("model_provider", "login")):
        if marker in omitted:
            return name
    assert m["keys_sent"], "an in-session dialog follows a prompt"
    if "AskUserQuestion" in m["detail"]:
        return "question"
    if "Auto mode can" in m["detail"]:
        return "auto_mode"
    return "permission"


def chosen(reading: DialogReading) -> str | None:
    """The option a dialog ends on when its planned keys are followed, one at a time, on a list
    that moves like the real ones (Up/Down by one, wrapping); None when no key answers it."""
    cursor = reading.cursor
    for _ in range(10):
        answer = replace(reading, cursor=cursor).answer()
        if not answer.keys:
            return None
        if answer.confirm:
            assert cursor is not None
            return reading.options[cursor]
        assert cursor is not None and answer.keys in (("Up",), ("Down",))
        cursor = (cursor + (1 if answer.keys == ("Down",) else -1)) % len(reading.options)
    raise AssertionError("keys never confirm")


@pytest.mark.parametrize("name", of_state("dialog", names=ALL))
def test_find_dialog_names_the_dialog_and_its_choice_accepts(name: str) -> None:
    m, lines = meta(name), screen(name)
    dialog = find_dialog(lines, table(name))
    assert dialog is not None and dialog.name == expected_dialog(m)
    reading = read_dialog(lines, table(name))
    assert reading is not None and reading.name == dialog.name and len(reading.options) >= 2
    if dialog.choose:
        choice = chosen(reading)
        assert choice is not None and re.match(r"(Yes|Trust)\b", choice) and "don" not in choice, choice
    else:  # a question only someone who knows the work can answer
        assert dialog.name in {"question", "auto_mode", "login"}
        assert chosen(reading) is None
    assert input_content(lines, table(name)) is None


@pytest.mark.parametrize("name", of_state("dialog", names=ALL))
def test_newest_tables_answer_every_dialog_layout_right(name: str) -> None:
    m, lines = meta(name), screen(name)
    reading = read_dialog(lines, PATTERNS[m["cli"]])
    assert reading is not None and reading.name == expected_dialog(m)
    if reading.choose:
        assert re.match(r"(Yes|Trust)\b", chosen(reading) or "")


def test_trust_dialog_choice_follows_the_cursor_row() -> None:
    # 2.1.197 puts the cursor on `❯ 1. Yes, I trust this folder`, 2.1.332 on `❯ No, exit`: Enter
    # on the wrong one would quit Claude. The keys come from the screen, not from the layout.
    old, new = screen("claude-dialog-5"), screen(f"{NEW}/claude-dialog-3")
    assert read_dialog(old, CLAUDE).answer().keys == ("Enter",)  # type: ignore[union-attr]
    assert read_dialog(new, CLAUDE).answer().keys == ("Down",)  # type: ignore[union-attr]
    moved = [line.replace("❯ No, exit", "  No, exit").replace("  Yes, I trust", "❯ Yes, I trust") for line in new]
    assert read_dialog(moved, CLAUDE).answer().keys == ("Enter",)  # type: ignore[union-attr]
    # no cursor on screen: the options cannot be read, so nothing is sent blindly
    odd = [line.replace("❯ No, exit", "  No, exit") for line in new]
    reading = read_dialog(odd, CLAUDE)
    assert reading is not None and reading.name == "trust" and reading.options == ()
    assert reading.answer().keys == () and "could not be read" in reading.answer().person
    assert classify_as(odd, "claude", status=None) == PaneState.DIALOG


@pytest.mark.parametrize("name", [n for n in ALL if meta(n)["state"] != "dialog"])
def test_no_dialog_outside_dialog_captures(name: str) -> None:
    assert find_dialog(screen(name), table(name)) is None
    assert find_dialog(screen(name), PATTERNS[meta(name)["cli"]]) is None


def test_reply_asking_a_question_is_not_a_permission_dialog() -> None:
    lines = screen("claude-done_idle-1")
    i = next(i for i, line in enumerate(lines) if line.startswith("● "))
    lines[i:i + 1] = ["● I can push now.", "", "  Do you want to proceed?"]
    assert find_dialog(lines, CLAUDE) is None
    assert classify_as(lines, "claude") == PaneState.DONE_IDLE


def test_session_status_waiting_means_dialog() -> None:
    assert classify_as(screen("claude-done_idle-1"), "claude", status="waiting") == PaneState.DIALOG


# --- input and pending pastes ------------------------------------------------------------------

PASTE_3 = ("Please review the parser change before you merge it:\n"
           "- check that empty input still returns an empty tree\n"
           "- run the golden tests and paste the summary here")


def sent_text(m: dict[str, Any]) -> str:
    """The unsubmitted text of a capture, rebuilt from its `keys_sent`."""
    last = m["keys_sent"][-1]
    if last == "<key Escape>":  # Esc before the first byte puts the prompt back into the box
        return sent_text({**m, "keys_sent": m["keys_sent"][:-1]})
    paste = re.fullmatch(r"<bracketed paste, (\d+) lines, (\d+) chars, no Enter>", last)
    if paste is None:
        return last.removesuffix("[no Enter]").rstrip()
    lines, chars = int(paste[1]), int(paste[2])
    if len(PASTE_3) == chars and PASTE_3.count("\n") + 1 == lines:
        return PASTE_3
    # A collapsed paste shows no text: any text of the same shape stands in for it.
    body = [f"line {i} of the pasted brief" for i in range(lines)]
    return "\n".join(body)


@pytest.mark.parametrize("name", of_state("unsubmitted_input", names=ALL))
def test_is_pending_on_unsubmitted_captures(name: str) -> None:
    m, lines = meta(name), screen(name)
    patterns, text = table(name), sent_text(m)
    assert is_pending(lines, text, patterns)
    assert input_content(lines, patterns)
    for other in of_state("done_idle", m["cli"], ALL) + of_state("idle", m["cli"], ALL) + of_state("api_error", m["cli"], ALL):
        assert not is_pending(screen(other), text, table(other)), other


@pytest.mark.parametrize("name", [n for n in ALL
                                  if meta(n)["state"] in {"busy", "done_idle", "waiting_until", "api_error", "idle"}])
def test_submitted_prompts_are_not_pending(name: str) -> None:
    m, lines = meta(name), screen(name)
    assert input_content(lines, table(name)) == ""
    for prompt in m["keys_sent"]:
        assert not is_pending(lines, prompt, table(name))


def test_codex_placeholder_is_not_input() -> None:
    lines = screen("codex-idle-1")
    assert any("Ask Codex to do anything" in line for line in lines)
    assert input_content(lines, CODEX) == ""
    assert not is_pending(lines, "Ask Codex to do anything", CODEX)
    assert classify_as(lines, "codex") == PaneState.IDLE


def test_wrapped_first_line_is_pending() -> None:
    text = "Rebase the feature branch onto main, rerun the integration suite and report the failures only"
    lines = screen("claude-idle-1")  # 80 columns
    box = lines.index("❯\u00a0")
    lines[box:box + 1] = ["❯\u00a0" + text[:78], "  " + text[78:]]  # wrapped mid-word
    assert is_pending(lines, text + "\nsecond line", CLAUDE)
    assert not is_pending(lines, "Rebase the release branch", CLAUDE)
    assert classify_as(lines, "claude") == PaneState.UNSUBMITTED_INPUT


def test_collapsed_codex_paste_is_pending() -> None:
    lines = screen("codex-idle-1")
    box = next(i for i, line in enumerate(lines) if line.startswith("› "))
    lines[box] = "› [Pasted Content 2187 chars]"
    assert is_pending(lines, "x" * 2187, CODEX)
    assert classify_as(lines, "codex") == PaneState.UNSUBMITTED_INPUT


def test_no_input_box_means_none() -> None:
    assert input_content(screen("codex-exited_to_shell-1"), CODEX) is None
    assert not is_pending(screen("codex-exited_to_shell-1"), "codex --no-daemon", CODEX)
    assert not is_pending(screen("claude-unsubmitted_input-1"), "   \n\n", CLAUDE)


# --- WAITING-UNTIL -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", of_state("waiting_until", names=ALL))
def test_waiting_until_on_waiting_captures(name: str) -> None:
    m, lines = meta(name), screen(name)
    (raw,) = re.findall(r"WAITING-UNTIL: (\S+)", "\n".join(lines))
    expected = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    assert waiting_until(lines, PATTERNS[m["cli"]]) == expected
    got = waiting_until(lines, table(name))
    assert got == expected and got.tzinfo is not None and got.utcoffset().total_seconds() == 0
    assert got.timestamp() > m["captured_at"]


@pytest.mark.parametrize("name", of_state("done_idle", names=ALL) + of_state("idle", names=ALL))
def test_waiting_until_none_without_marker(name: str) -> None:
    assert waiting_until(screen(name), table(name)) is None


def with_reply_tail(name: str, old: str, new: list[str]) -> list[str]:
    lines = screen(name)
    i = next(i for i, line in enumerate(lines) if old in line)
    lines[i:i + 1] = new
    return lines


def test_waiting_until_line_that_is_not_last_is_ignored() -> None:
    lines = with_reply_tail("claude-waiting_until-2", "WAITING-UNTIL", [
        "  WAITING-UNTIL: 2026-11-22T05:15:00Z", "", "  Then I will check CI again."])
    assert waiting_until(lines, CLAUDE) is None
    assert classify_as(lines, "claude") == PaneState.DONE_IDLE


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-11-22T06:00:00Z", datetime(2026, 11, 22, 6, tzinfo=UTC)),
    ("2026-11-22T08:30:00+02:00", datetime(2026, 11, 22, 6, 30, tzinfo=UTC)),
    ("2026-11-22T06:00:00", datetime(2026, 11, 22, 6, tzinfo=UTC)),
    ("2026-11-22 06:00", datetime(2026, 11, 22, 6, tzinfo=UTC)),
    ("`2026-11-22T06:00:00Z`.", datetime(2026, 11, 22, 6, tzinfo=UTC)),
    ("tomorrow morning", None),
    ("2026-13-40T99:00:00Z", None),
])
def test_waiting_until_time_formats(raw: str, expected: datetime | None) -> None:
    lines = with_reply_tail("codex-waiting_until-1", "WAITING-UNTIL", [f"  WAITING-UNTIL: {raw}"])
    assert waiting_until(lines, CODEX) == expected


def test_waiting_until_as_the_whole_reply() -> None:
    lines = with_reply_tail("claude-done_idle-1", "● Nothing else",
                            ["● WAITING-UNTIL: 2026-11-22T07:00:00Z"])
    assert waiting_until(lines, CLAUDE) == datetime(2026, 11, 22, 7, tzinfo=UTC)
    assert classify_as(lines, "claude") == PaneState.WAITING_UNTIL


def test_unsubmitted_input_beats_waiting_until() -> None:
    lines = screen("claude-waiting_until-1")
    box = lines.index("❯\u00a0")
    lines[box] = "❯\u00a0wake up"
    assert waiting_until(lines, CLAUDE) is not None
    assert classify_as(lines, "claude") == PaneState.UNSUBMITTED_INPUT


# --- the live bottom of the screen -------------------------------------------------------------

def test_old_retry_line_does_not_count_after_a_later_finished_turn() -> None:
    retrying = screen("claude-rate_limited_retrying-1")
    done = screen("claude-done_idle-1")
    old_turn = retrying[6:9]  # prompt, blank, `✻ API error · Retrying in 42s · attempt 1/10`
    assert "Retrying" in old_turn[-1]
    lines = done[:6] + old_turn + [""] + done[6:]
    assert classify_as(lines, "claude") == PaneState.DONE_IDLE


def test_old_api_error_does_not_count_after_a_later_finished_turn() -> None:
    error = screen("codex-api_error-1")
    done = screen("codex-done_idle-1")
    lines = done[:6] + error[6:10] + done[6:]
    assert any(line.startswith("■") for line in lines)
    assert classify_as(lines, "codex") == PaneState.DONE_IDLE


def test_esc_interrupt_notices_are_done() -> None:
    claude = with_reply_tail("claude-done_idle-1", "✻ Baked",
                             ["  ⎿  Interrupted · What should Claude do instead?"])
    claude = [line for line in claude if not line.startswith("● ")]
    assert classify_as(claude, "claude") == PaneState.DONE_IDLE
    codex = with_reply_tail("codex-done_idle-1", "Worked for", [
        "■ Conversation interrupted - tell the model what to do differently. Something went wrong?"])
    assert classify_as(codex, "codex") == PaneState.DONE_IDLE


def test_unmarked_started_turn_uses_session_status_or_the_cli_default() -> None:
    # Codex draws nothing while text streams; Claude always shows `esc to interrupt` then.
    codex = with_reply_tail("codex-done_idle-2", "Worked for", [""])
    assert classify_as(codex, "codex") == PaneState.BUSY
    claude = with_reply_tail("claude-done_idle-3", "✻ Cooked", [""])
    assert classify_as(claude, "claude") == PaneState.DONE_IDLE
    assert classify_as(claude, "claude", status="busy") == PaneState.BUSY
    assert classify_as(screen("claude-idle-1"), "claude", status="busy") == PaneState.BUSY
    assert classify_as(screen("claude-idle-1"), "claude", status="idle") == PaneState.IDLE


def test_screen_markers_beat_session_status() -> None:
    assert classify_as(screen("claude-done_idle-1"), "claude", status="busy") == PaneState.DONE_IDLE
    assert classify_as(screen("claude-busy-4"), "claude", status="idle") == PaneState.BUSY


def test_usage_limit_banner_is_an_api_error_but_a_usage_warning_is_not() -> None:
    hit = with_reply_tail("claude-done_idle-1", "● Nothing else", [
        "  ⎿  You've hit your session limit · resets 3pm (Europe/Berlin)"])
    assert classify_as(hit, "claude") == PaneState.API_ERROR
    warned = with_reply_tail("claude-done_idle-1", "● Nothing else", [
        "● Done.", "", "  You've used 90% of your weekly limit · resets Oct 10, 11am"])
    assert classify_as(warned, "claude") == PaneState.DONE_IDLE
    codex = with_reply_tail("codex-api_error-2", "Quota exceeded", [
        "■ You've hit your usage limit. Upgrade to Pro or try again at 3:28 PM."])
    assert classify_as(codex, "codex") == PaneState.API_ERROR


def test_fatal_errors_only_in_the_latest_turn() -> None:
    assert is_fatal(screen("claude-api_error-4"), CLAUDE)  # Invalid API key
    assert not is_fatal(screen("claude-api_error-1"), CLAUDE)  # a final 429 is not fatal
    assert not is_fatal(screen("codex-api_error-1"), CODEX)
    # A later finished turn leaves the old fatal error in scrollback only.
    old = screen("claude-api_error-4")
    lines = [*old[:11], "❯ try again", "", "● Fine now.", "", "✻ Baked for 0s", "", *old[11:]]
    assert not is_fatal(lines, CLAUDE)
    assert classify_as(lines, "claude") == PaneState.DONE_IDLE


def test_exit_is_decided_by_the_foreground_command() -> None:
    killed = screen("claude-exited_to_shell-5")
    assert classify_as(killed, "claude", command="bash") == PaneState.EXITED_TO_SHELL
    busy = screen("claude-busy-2")  # stale `esc to interrupt` left behind by a SIGKILL
    assert classify_as(busy, "claude", command="bash") == PaneState.EXITED_TO_SHELL
    # A shell that is itself the agent's process name is not an exit.
    assert classify(busy, CLAUDE, current_command="bash", process_names={"bash"}) == PaneState.BUSY


def test_screen_may_be_one_string() -> None:
    text = (CAPTURES / "codex-busy-1.txt").read_text(encoding="utf-8")
    assert classify(text, CODEX, current_command="node", process_names={"node"}) == PaneState.BUSY


def test_bad_override_regex_fails_at_construction() -> None:
    with pytest.raises(re.error):
        ScreenPatterns(**{**CLAUDE.__dict__, "active_re": "esc to (interrupt"})
    with pytest.raises(re.error):
        Dialog("trust", "Trust this folder[", ("Enter",))
    with pytest.raises(re.error):
        Dialog("trust", "Trust this folder", choose="^Yes(")


def test_state_values_are_the_capture_labels() -> None:
    assert {meta(n)["state"] for n in NAMES} == {s.value for s in PaneState}


def test_claude_queued_message_hint_is_not_unsubmitted_input() -> None:
    # Seen with Claude Code 2.1.197: a message sent during a busy turn is queued and the input
    # box shows a hint while the turn (footer: esc to interrupt) keeps running.
    from agent_orchestrator.screen.detect import classify, input_content
    from agent_orchestrator.screen.patterns import CLAUDE

    screen = [
        "❯ Build the thing",
        "✽ Mulling… (25s · esc to interrupt)",
        "─" * 40,
        "❯\u00a0Press up to edit queued messages",
        "─" * 40,
        "  ⏵⏵ bypass permissions on (shift+tab to cycle) · esc to interrupt",
    ]
    assert input_content(screen, CLAUDE) == ""
    assert classify(screen, CLAUDE, current_command="claude", process_names={"claude"}) == "busy"
