"""Pane-state detectors: read a captured agent screen and say what the agent is doing.

Pure functions over the rows of `tmux capture-pane -p` (top to bottom, one string per row; a
single string is split on newlines). The regexes are data, one table per CLI version
(`screen.patterns`: Claude Code 2.1.197 and 2.1.332, Codex CLI 0.169.0 and 0.171.0;
`patterns_for(cli, version)`), and can be overridden per backend (`screen_patterns`). `CLAUDE`
and `CODEX` are the newest tables.

How a screen is read, and why:

- The bottom-most `input_re` match is the live input line; the match above it is the latest
  prompt the user sent. Everything below that prompt is the latest turn, so text from earlier
  turns (an old `Retrying`, an old error) never counts.
- The turn's state is read on its *status lines*: up to three non-blank lines just above the
  input line (spinner, retry line, past-tense summary), plus the footer below the input block
  (Claude's `esc to interrupt` is the only busy sign while text streams). UI lines that belong
  to no turn (`chrome_re`: Claude Code 2.1.332's `◐ medium · /effort`) are skipped there, and
  when the reply's last line is looked for (WAITING-UNTIL).
- Text in the input box is typed input unless it is a placeholder (`placeholder_re`: Claude
  Code 2.1.332 puts `Resend your message to try again` in the box after a final API error).
- A dialog is a known one (`patterns.dialogs`, matched below the last input line) or any option
  list with a cursor above a key hint (`screen.menu.read_menu`), named `unknown`: either covers
  the input box. `read_dialog` also reads the options, where the cursor is and which option the
  dialog's `choose` names, from which `DialogReading.answer` plans the next key.
- The `❯` box is always drawn, so it proves nothing alone, and after SIGKILL the old UI stays on
  screen around bash's prompt: `pane_current_command` decides `exited_to_shell`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from agent_orchestrator.screen.menu import Answer, Menu, pick, plan_answer, read_menu
from agent_orchestrator.screen.patterns import (
    CLAUDE,
    CODEX,
    PATTERNS,
    PROCESS_NAMES,
    Dialog,
    ScreenPatterns,
    compiled,
    patterns_for,
)

__all__ = [
    "CLAUDE", "CODEX", "PATTERNS", "PROCESS_NAMES", "UNKNOWN_DIALOG", "WAITING_UNTIL_RE", "CaptureResult",
    "Dialog", "DialogReading", "PaneState", "ScreenPatterns", "bundled_corpora", "check_captures", "classify",
    "find_dialog", "input_content", "is_fatal", "is_pending", "patterns_for", "read_dialog", "screen_lines", "strip_ansi",
    "waiting_until",
]


class PaneState(StrEnum):
    """What the agent in a pane is doing; the values are the labels of the capture corpus."""

    IDLE = "idle"
    BUSY = "busy"
    DONE_IDLE = "done_idle"
    WAITING_UNTIL = "waiting_until"
    UNSUBMITTED_INPUT = "unsubmitted_input"
    DIALOG = "dialog"
    RATE_LIMITED_RETRYING = "rate_limited_retrying"
    API_ERROR = "api_error"
    EXITED_TO_SHELL = "exited_to_shell"


# Our own protocol line, the same for every CLI; a one-line reply is drawn with its bullet.
WAITING_UNTIL_RE = re.compile(r"^\s*(?:[●•◦⏺]\s*)?[*_`]*WAITING-UNTIL:[*_`]*\s*(?P<when>\S.*?)\s*$")

_RULE = re.compile(r"^\s*[─━]{8,}\s*$")
# Codex draws its selection cursor `›` (its input glyph) before dialog choices: `› 1. Yes`.
_OPTION = re.compile(r"^\s*\d+\.\s")
# Claude Code 2.1.x `[Pasted text #1 +24 lines]`, Codex 0.169 `[Pasted Content 2187 chars]`.
_COLLAPSED = re.compile(r"\[Pasted text #\d+[^\]]*\]|\[Pasted Content \d+ chars\]")
_ANSI = re.compile(r"\x1b\[[0-9;:?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_STATUS_LINES = 3


def screen_lines(text: str) -> list[str]:
    """Split `capture-pane` output into rows: only on `\\n` (a `\\r` before it is dropped).

    `str.splitlines` is not used because it also splits on characters a TUI may draw.
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


def strip_ansi(text: str) -> str:
    """`text` without terminal escape sequences (colour/attributes from `capture-pane -e`)."""
    return _ANSI.sub("", text)


def _lines(screen: Sequence[str] | str) -> list[str]:
    return screen_lines(screen) if isinstance(screen, str) else list(screen)


def _skipped(line: str, chrome: re.Pattern[str] | None) -> bool:
    """A line that says nothing about the turn: blank, a rule, or UI chrome."""
    return not line.strip() or bool(_RULE.match(line)) or bool(chrome and chrome.search(line))


def _chrome(patterns: ScreenPatterns) -> re.Pattern[str] | None:
    return compiled(patterns.chrome_re) if patterns.chrome_re else None


def _matches(pattern: str | None, lines: Sequence[str]) -> bool:
    if not pattern:
        return False
    rx = compiled(pattern)
    return any(rx.search(line) for line in lines)


def _content(m: re.Match[str]) -> str:
    return (m.group(1) or "") if m.re.groups else ""


def _input_rows(lines: Sequence[str], patterns: ScreenPatterns) -> list[int]:
    """Indices of every line matching `input_re` (echoed prompts, then the live input line)."""
    rx = compiled(patterns.input_re)
    return [i for i, line in enumerate(lines) if rx.search(line)]


def _block_end(lines: Sequence[str], start: int) -> int:
    """Index just past the input block starting at `start`: wrapped/extra lines are indented."""
    end = start + 1
    while end < len(lines) and lines[end][:1].isspace() and lines[end].strip():
        if _RULE.match(lines[end]):
            break
        end += 1
    return end


def _find_dialog(lines: list[str], patterns: ScreenPatterns, menu: Menu | None) -> Dialog | None:
    rx = compiled(patterns.input_re)
    options = set(menu.rows) if menu is not None else set()
    start = 0
    for i in range(len(lines) - 1, -1, -1):
        if i in options:
            continue  # a dialog's cursor row (`❯ No, exit`, `› 1. Yes`) is no input line
        m = rx.search(lines[i])
        if m and not _OPTION.match(_content(m)):
            start = i + 1
            break
    text = "\n".join(lines[start:])
    return next((d for d in patterns.dialogs if compiled(d.match_re).search(text)), None)


def find_dialog(screen: Sequence[str] | str, patterns: ScreenPatterns) -> Dialog | None:
    """The first of `patterns.dialogs` that is up on `screen`, or None.

    Only the bottom of the screen is searched: the lines below the last input line (a dialog
    replaces the input box; text above it is old). Codex's `› 1.` choice lines, and the rows of
    a dialog's option list (`read_menu`), do not count as input lines. So a reply that merely
    asks "Do you want to proceed?" is not a dialog.
    """
    lines = _lines(screen)
    return _find_dialog(lines, patterns, read_menu(lines))


# The name of a dialog no pattern names, shown because an option list with a cursor is up.
UNKNOWN_DIALOG = "unknown"


@dataclass(frozen=True)
class DialogReading:
    """The dialog that is up, as far as the screen tells.

    `name` is the known dialog's (`patterns.dialogs`), or `UNKNOWN_DIALOG` for an option list
    that no pattern names; `choose`/`keys` are the known dialog's (empty for an unknown one);
    `options`/`cursor` its option list as read (`screen.menu.read_menu`; `()`/None when none
    could be read); `choice` the index of the one option `choose` names (`screen.menu.pick`),
    None when there is none (nothing to choose, not on screen, or ambiguous).
    """

    name: str
    choose: str = ""
    keys: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    cursor: int | None = None
    choice: int | None = None

    def answer(self, *, wraps: bool = True) -> Answer:
        """The next step in answering it (`screen.menu.plan_answer`)."""
        return plan_answer(self.name, self.options, self.cursor, self.choice, self.choose, self.keys, wraps=wraps)


def read_dialog(screen: Sequence[str] | str, patterns: ScreenPatterns) -> DialogReading | None:
    """The dialog that is up on `screen`: a known one (`find_dialog`) with its option list, or an
    unknown option list (`read_menu`: a cursor over two or more options above a key hint); None
    when neither is up."""
    lines = _lines(screen)
    menu = read_menu(lines)
    dialog = _find_dialog(lines, patterns, menu)
    if dialog is None and menu is None:
        return None
    options = menu.options if menu is not None else ()
    cursor = menu.cursor if menu is not None else None
    if dialog is None:
        return DialogReading(UNKNOWN_DIALOG, options=options, cursor=cursor)
    return DialogReading(dialog.name, dialog.choose, dialog.keys, options, cursor, pick(options, dialog.choose))


def _dialog_up(lines: list[str], patterns: ScreenPatterns) -> bool:
    """A known dialog or an unknown option list is up: the input box is not."""
    menu = read_menu(lines)
    return menu is not None or _find_dialog(lines, patterns, menu) is not None


def _input_block(lines: list[str], patterns: ScreenPatterns) -> list[str] | None:
    """The live input line's content and its continuation lines; None if no input box is up."""
    rows = _input_rows(lines, patterns)
    if not rows or _dialog_up(lines, patterns):
        return None
    box = rows[-1]
    m = compiled(patterns.input_re).search(lines[box])
    first = _content(m).strip() if m else ""
    if patterns.placeholder_re and compiled(patterns.placeholder_re).search(first):
        first = ""
    return [first, *(line.strip() for line in lines[box + 1:_block_end(lines, box)])]


def input_content(screen: Sequence[str] | str, patterns: ScreenPatterns) -> str | None:
    """Text on the live (bottom-most) input line, stripped.

    Returns "" when the box is empty or shows `placeholder_re`, and None when no input box is
    drawn (none on screen, or a dialog covers it). Wrapped or extra lines of a multi-line input
    are not included (see `is_pending`).
    """
    block = _input_block(_lines(screen), patterns)
    return None if block is None else block[0]


def _nows(text: str) -> str:
    return "".join(text.split())


def is_pending(screen: Sequence[str] | str, text: str, patterns: ScreenPatterns) -> bool:
    """True while `text` (just pasted or typed) still sits unsubmitted in the input box.

    Compares the first non-empty line of `text` with the start of the input block, ignoring all
    whitespace (so a first line wrapped mid-word over several rows still matches). A collapsed
    paste (`[Pasted text #1 +24 lines]`, `[Pasted Content 2187 chars]`) counts as pending
    without a comparison: the text itself is not on screen. A placeholder is never pending, and
    neither is anything when no input box is drawn (e.g. a dialog is up).
    """
    needle = next((_nows(line) for line in text.splitlines() if line.strip()), "")
    block = _input_block(_lines(screen), patterns)
    if not needle or block is None:
        return False
    shown = " ".join(block)
    if _COLLAPSED.search(shown):
        return True
    return bool(block[0]) and _nows(shown).startswith(needle)


@dataclass(frozen=True)
class _Turn:
    """The latest turn: `lines[start:]`, its status lines and its footer."""

    start: int
    prompted: bool
    status: list[str]
    footer: list[str]
    body: list[str]


def _latest_turn(lines: list[str], patterns: ScreenPatterns) -> _Turn:
    rows = _input_rows(lines, patterns)
    box = rows[-1] if rows else len(lines)
    start = rows[-2] + 1 if len(rows) >= 2 else 0
    done, chrome = compiled(patterns.done_re), _chrome(patterns)
    status: list[str] = []
    for line in reversed(lines[start:box]):
        if _skipped(line, chrome):
            continue
        status.append(line)
        # Lines above a finished turn's summary are its body, not live status.
        if len(status) == _STATUS_LINES or done.search(line):
            break
    footer = lines[_block_end(lines, box):] if rows else []
    return _Turn(start, len(rows) >= 2, status, footer, lines[start:box])


def is_fatal(screen: Sequence[str] | str, patterns: ScreenPatterns) -> bool:
    """True when the latest turn shows `fatal_re` (only a fresh restart or a human helps)."""
    lines = _lines(screen)
    return _matches(patterns.fatal_re, lines[_latest_turn(lines, patterns).start:])


def _turn_state(lines: list[str], patterns: ScreenPatterns) -> tuple[PaneState, bool]:
    """The turn's state from the screen alone, and whether the screen actually shows it."""
    turn = _latest_turn(lines, patterns)
    if _matches(patterns.retry_re, turn.status):
        return PaneState.RATE_LIMITED_RETRYING, True
    if _matches(patterns.active_re, turn.status + turn.footer):
        return PaneState.BUSY, True
    tail = lines[turn.start:]
    if any(_matches(p, tail) for p in (patterns.error_re, patterns.limit_re, patterns.fatal_re)):
        return PaneState.API_ERROR, True
    if _matches(patterns.done_re, turn.status):
        return _finished(lines, patterns), True
    started = turn.prompted or _matches(patterns.reply_re, turn.body)
    return (PaneState.DONE_IDLE if started else PaneState.IDLE), False


def _finished(lines: list[str], patterns: ScreenPatterns) -> PaneState:
    return PaneState.WAITING_UNTIL if waiting_until(lines, patterns) else PaneState.DONE_IDLE


def classify(
    screen: Sequence[str] | str,
    patterns: ScreenPatterns,
    *,
    current_command: str,
    process_names: Collection[str],
    session_status: str | None = None,
) -> PaneState:
    """The state of the agent whose pane shows `screen`.

    `current_command` is tmux `#{pane_current_command}`; `process_names` are the values it has
    while the agent runs (`PROCESS_NAMES[cli]`). `session_status` is Claude Code's
    `$HOME/.claude/sessions/<pid>.json` "status" ("busy", "idle", "waiting"), passed only when
    the caller has a fresh one from a live pid.

    Precedence: exited_to_shell (a shell is in the foreground) > dialog (a known one or an option
    list on screen, or status "waiting") > unsubmitted_input > the turn's state (retrying > busy >
    api_error > waiting_until / done_idle > idle). When the screen shows no marker for the turn, `session_status` decides;
    without it a started turn counts as done, or as busy for a CLI with `silent_streaming`.
    """
    lines = _lines(screen)
    if current_command in patterns.shell_commands and current_command not in process_names:
        return PaneState.EXITED_TO_SHELL
    if session_status == "waiting" or _dialog_up(lines, patterns):
        return PaneState.DIALOG
    if input_content(lines, patterns):
        return PaneState.UNSUBMITTED_INPUT
    state, shown = _turn_state(lines, patterns)
    if shown:
        return state
    if session_status == "busy":
        return PaneState.BUSY
    if state is PaneState.IDLE:
        return state
    if session_status == "idle" or not patterns.silent_streaming:
        return _finished(lines, patterns)
    return PaneState.BUSY


def _parse_when(raw: str) -> datetime | None:
    raw = raw.strip(" `*_.,;\"'")
    if raw.endswith(("z", "Z")):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def waiting_until(screen: Sequence[str] | str, patterns: ScreenPatterns) -> datetime | None:
    """When the agent asked to be woken: the time on a `WAITING-UNTIL: <ISO-8601>` line.

    The line must be the last non-empty line of the latest reply, i.e. the first line above the
    input box once blank lines, rules, UI chrome (`chrome_re`) and the turn summary (`done_re`)
    are skipped. Returns an aware UTC datetime (`Z`, offsets and naive times, taken as UTC, are
    accepted), or None when there is no such line or its time does not parse.
    """
    lines = _lines(screen)
    rows = _input_rows(lines, patterns)
    done, chrome = compiled(patterns.done_re), _chrome(patterns)
    for line in reversed(lines[:rows[-1]] if rows else lines):
        if _skipped(line, chrome) or done.search(line):
            continue
        m = WAITING_UNTIL_RE.match(line)
        return _parse_when(m.group("when")) if m else None
    return None


@dataclass(frozen=True)
class CaptureResult:
    """One labelled capture checked: `expected` is its label, `got` what `classify` said
    (None when it could not run), `reason` why it could not run or did not match."""

    name: str
    cli: str
    expected: str
    got: str | None
    ok: bool
    reason: str = ""


def _check_one(json_path: Path) -> CaptureResult:
    name = json_path.stem
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return CaptureResult(name, "", "", None, False, f"unreadable label: {exc}")
    cli, expected = str(meta.get("cli", "")), str(meta.get("state", ""))
    try:
        patterns = patterns_for(cli, str(meta.get("version") or ""))
    except ValueError as exc:
        return CaptureResult(name, cli, expected, None, False, f"bad version: {exc}")
    if patterns is None:
        return CaptureResult(name, cli, expected, None, False, f"unknown cli {cli!r}")
    txt = json_path.with_suffix(".txt")
    if not txt.is_file():
        return CaptureResult(name, cli, expected, None, False, f"missing {txt.name}")
    status_file = meta.get("session_status_json")
    status = None
    if isinstance(status_file, dict) and not meta.get("session_status_stale"):
        status = status_file.get("status")
    got = classify(
        screen_lines(txt.read_text(encoding="utf-8")),
        patterns,
        current_command=str(meta.get("pane_current_command", "")),
        process_names=PROCESS_NAMES[cli],
        session_status=status,
    )
    ok = got == expected
    return CaptureResult(name, cli, expected, str(got), ok, "" if ok else f"expected {expected}, got {got}")


def check_captures(directory: Path) -> list[CaptureResult]:
    """Classify every `<name>.txt` + `<name>.json` capture in `directory`, sorted by name.

    Each capture is read with the table of its labelled `cli` and `version` (`patterns_for`; no
    version: the newest). Its `pane_current_command` is passed through, and its
    `session_status_json` "status" too unless the file was stale (`session_status_stale`, left
    behind by a SIGKILL). Never raises for a bad capture: an unknown cli, a bad version, a
    missing screen or an unreadable label gives a result with `ok=False` and a `reason`.
    """
    return [_check_one(path) for path in sorted(Path(directory).glob("*.json"))]


# The labelled corpora bundled with the package, one folder per capture run: `captures` (Claude
# Code 2.1.197, Codex CLI 0.169.0) and `captures-2026-12` (Claude Code 2.1.332, Codex CLI 0.171.0).
_DATA = Path(__file__).resolve().parent.parent / "data"


def bundled_corpora() -> list[Path]:
    """The bundled capture folders (`data/captures*`), oldest first; what `agents selftest` checks."""
    return sorted(p for p in _DATA.glob("captures*") if p.is_dir())
