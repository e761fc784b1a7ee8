"""Option lists on a captured screen: which options a dialog offers and where its cursor is.

A dialog of an agent CLI is a question above a list of options, one of them marked by a cursor
glyph, and a key hint below the list. `read_menu` finds that list in the rows of a capture
(`tmux capture-pane -p`, top to bottom) with no knowledge of which dialog it is; `pick` finds the
option whose text a regex names; `moves` and `next_key` say which keys bring the cursor there.
Pure functions over strings: no tmux, no clock.

Checked against real screens of:

- Claude Code 2.1.197: numbered options, cursor `❯` after indentation, e.g. the trust dialog
  ` ❯ 1. Yes, I trust this folder` / `   2. No, exit`, the API-key dialog `    1. Yes` /
  `  ❯ 2. No (recommended)`, the bypass dialog `  ❯ 1. No, exit` / `    2. Yes, I accept`, a
  permission prompt ` ❯ 1. Yes` / `   2. Yes, and don’t ask again …` / `   3. No`; hint
  `Enter to confirm · Esc to cancel` or `Esc to cancel · Tab to amend · ctrl+e to explain`.
- Claude Code 2.1.332: unnumbered options (digits do nothing; Up/Down wrap around): trust
  ` ❯ No, exit` / `   Yes, I trust this folder`, API key `    Yes` / `  ❯ No (recommended)`,
  bypass `  ❯ No, exit` / `    Yes, I accept`; numbered ones in a permission prompt and in
  AskUserQuestion (`❯ 1. Redis (Recommended)`, description rows indented deeper, a rule before
  `  5. Chat about this`, hint `Enter to select · ↑/↓ to navigate · Esc to cancel`).
- Codex CLI 0.169.0 and 0.171.0: cursor `›` at column 0, numbered options, e.g. the trust dialog
  `› 1. Trust and continue` / `  2. Back to Agent Command Center` (hint `enter continue · esc
  back`), the hooks review `› 1. Review hooks` / `  2. Trust all and continue` / `  3. Continue
  without trusting (hooks won't run)` (hint `enter confirm · esc skip`), an approval prompt
  `› 1. Yes, proceed (y)` … (hint `Press enter to confirm or esc to cancel`).

How a list is read (`read_menu`):

- The cursor row is the bottom-most row that starts (after optional indentation) with a cursor
  glyph, one space (or NBSP) and text. Only that row is tried: an input box holding typed text
  (Claude's `❯\u00a0…`, Codex's `› …`) is the bottom-most such row when no dialog is up, and
  it is no list.
- Numbered (`❯ 2. No`): the options are the rows numbered consecutively around the cursor row
  with their numbers in the cursor row's number column. Rows indented deeper (descriptions,
  wrapped text), blank rows and rules between options are skipped.
- Unnumbered (`❯ No, exit`): the options are the contiguous rows whose text starts in the
  cursor row's text column; rows indented deeper below an option belong to it.
- Either way the list must hold two options or more and be followed, within three non-blank
  rows, by a key hint (`Enter to confirm`, `esc back`, `Press enter to confirm or esc to
  cancel`, …). Without a hint there is no list: a transcript line that happens to start with
  `❯` is never taken for a dialog.

An option's text is its first row, stripped, without glyph and number; rows wrapped below it
are not part of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CURSOR_GLYPHS", "Answer", "Menu", "moves", "next_key", "pick", "plan_answer", "read_menu"]

# `❯` Claude Code, `›` Codex CLI.
CURSOR_GLYPHS = "❯›"

_CURSOR = re.compile(r"^(?P<indent>[ \t]*)[❯›][ \u00a0]+(?P<rest>\S.*?)\s*$")
_NUMBER = re.compile(r"^(?P<num>\d{1,2})\.\s+(?P<text>\S.*?)\s*$")
_NUMBERED_ROW = re.compile(r"^(?P<indent>[ \t]*)(?:[❯›][ \u00a0]+)?(?P<num>\d{1,2})\.\s+(?P<text>\S.*?)\s*$")
_RULE = re.compile(r"^\s*[─━╌┄]{3,}\s*$")
# The key hint under a dialog's options (see the module docstring for the hints seen).
_HINT = re.compile(
    r"(?i)\b(?:enter|tab)\b[^·\n]{0,12}?\b(?:confirm|select|continue|review|amend)\b"
    r"|\besc\b[^·\n]{0,12}?\b(?:cancel|back|skip|close)\b"
)
_HINT_WITHIN = 3  # non-blank rows after the last option


@dataclass(frozen=True)
class Menu:
    """An option list on screen.

    `options` are the option texts, top to bottom (no glyph, no number); `cursor` is the index
    of the option the cursor is on; `numbered` whether the options carry numbers (`1. Yes`);
    `rows` the screen row of each option; `hint` the key hint below the list.
    """

    options: tuple[str, ...]
    cursor: int
    numbered: bool
    rows: tuple[int, ...]
    hint: str

    @property
    def selected(self) -> str:
        """The text of the option the cursor is on."""
        return self.options[self.cursor]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _blank_or_rule(line: str) -> bool:
    return not line.strip() or bool(_RULE.match(line))


def _hint_after(lines: Sequence[str], start: int) -> str | None:
    seen = 0
    for line in lines[start:]:
        if not line.strip():
            continue
        if _HINT.search(line):
            return line.strip()
        seen += 1
        if seen >= _HINT_WITHIN:
            break
    return None


def _numbered(lines: Sequence[str], at: int, column: int, number: int, text: str) -> tuple[list[tuple[int, str]], int]:
    """Options (row, text) of a numbered list around the cursor row `at`; and the row after it."""
    found = [(at, text)]
    want = number - 1
    i = at - 1
    while i >= 0 and want >= 1:
        line = lines[i]
        m = _NUMBERED_ROW.match(line)
        if m and len(m.group("indent")) == column and int(m.group("num")) == want and not _CURSOR.match(line):
            found.insert(0, (i, m.group("text")))
            want -= 1
        elif not (_blank_or_rule(line) or _indent(line) > column):
            break
        i -= 1
    want = number + 1
    end = at + 1
    i = at + 1
    while i < len(lines):
        line = lines[i]
        m = _NUMBERED_ROW.match(line)
        if m and len(m.group("indent")) == column and int(m.group("num")) == want and not _CURSOR.match(line):
            found.append((i, m.group("text")))
            want += 1
            end = i + 1
        elif _blank_or_rule(line):
            pass
        elif _indent(line) > column and not m:
            end = i + 1  # a description or wrapped row of the option above
        else:
            break
        i += 1
    return found, end


def _option_row(line: str, column: int) -> bool:
    return bool(line.strip()) and _indent(line) == column and not _RULE.match(line) and not _CURSOR.match(line)


def _unnumbered(lines: Sequence[str], at: int, column: int, text: str) -> tuple[list[tuple[int, str]], int]:
    """Options (row, text) of an unnumbered list around the cursor row `at`; and the row after it."""
    found = [(at, text)]
    pending = 0  # deeper rows seen above: they count only if an option is above them
    i = at - 1
    while i >= 0:
        line = lines[i]
        if _option_row(line, column):
            found.insert(0, (i, line.strip()))
            pending = 0
        elif line.strip() and _indent(line) > column and not _RULE.match(line) and not _CURSOR.match(line):
            pending += 1
        else:
            break
        i -= 1
    end = at + 1
    i = at + 1
    while i < len(lines):
        line = lines[i]
        if _option_row(line, column):
            found.append((i, line.strip()))
        elif not (line.strip() and _indent(line) > column and not _RULE.match(line) and not _CURSOR.match(line)):
            break
        end = i + 1
        i += 1
    return found, end


def read_menu(screen: Sequence[str] | str) -> Menu | None:
    """The option list of the dialog that is up on `screen`, or None (see the module docstring).

    `screen` is the rows of a capture (a single string is split on newlines).

    >>> menu = read_menu([" Security guide", "", " ❯ No, exit", "   Yes, I trust this folder", "",
    ...                   " Enter to confirm · Esc to cancel"])
    >>> menu.options, menu.cursor, menu.numbered
    (('No, exit', 'Yes, I trust this folder'), 0, False)
    >>> read_menu(["❯ hello", "", "  ⏵⏵ bypass permissions on (shift+tab to cycle)"]) is None
    True
    """
    lines = screen.split("\n") if isinstance(screen, str) else list(screen)
    at = next((i for i in range(len(lines) - 1, -1, -1) if _CURSOR.match(lines[i])), None)
    if at is None:
        return None
    m = _CURSOR.match(lines[at])
    assert m is not None
    rest = m.group("rest")
    numbered = _NUMBER.match(rest)
    if numbered:
        column = m.start("rest")
        found, end = _numbered(lines, at, column, int(numbered.group("num")), numbered.group("text"))
    else:
        found, end = _unnumbered(lines, at, m.start("rest"), rest)
    if len(found) < 2:
        return None
    hint = _hint_after(lines, end)
    if hint is None:
        return None
    rows = tuple(row for row, _ in found)
    return Menu(tuple(text for _, text in found), rows.index(at), bool(numbered), rows, hint)


def pick(options: Sequence[str], choose: str) -> int | None:
    """Index of the one option whose text `choose` (a regex, `re.search`) matches.

    None when `choose` is empty, or no option or more than one option matches: an ambiguous
    choice is no choice.

    >>> pick(("Yes", "No (recommended)"), "^Yes$"), pick(("Yes", "Yes, and don't ask"), "^Yes"), pick(("Yes",), "")
    (0, None, None)
    """
    if not choose:
        return None
    rx = re.compile(choose)
    hits = [i for i, text in enumerate(options) if rx.search(text)]
    return hits[0] if len(hits) == 1 else None


def moves(count: int, cursor: int, wanted: int, *, wraps: bool = True) -> tuple[str, ...]:
    """The tmux keys that bring the cursor of a `count`-option list from `cursor` to `wanted`.

    The shorter way round when the list may wrap (Claude Code 2.1.332's do: Down on the last
    option lands on the first); a tie, or a way round that is only as short, goes directly.
    With `wraps=False` always directly (a list that stops at its ends).

    >>> moves(2, 1, 0), moves(2, 0, 1), moves(3, 0, 2), moves(4, 0, 2), moves(3, 1, 1), moves(3, 0, 2, wraps=False)
    (('Up',), ('Down',), ('Up',), ('Down', 'Down'), (), ('Down', 'Down'))
    """
    if not 0 <= cursor < count or not 0 <= wanted < count:
        raise ValueError(f"cursor {cursor} and wanted {wanted} must be options of a {count}-option list")
    direct = wanted - cursor
    down, up = direct % count, -direct % count
    if not wraps or abs(direct) <= min(down, up):
        return ("Down",) * direct if direct > 0 else ("Up",) * -direct
    return ("Down",) * down if down < up else ("Up",) * up


def next_key(count: int, cursor: int, wanted: int, *, wraps: bool = True) -> str:
    """The one key to send now: `Enter` when the cursor is on `wanted`, else the first move."""
    way = moves(count, cursor, wanted, wraps=wraps)
    return way[0] if way else "Enter"


@dataclass(frozen=True)
class Answer:
    """What to do about the dialog on screen now.

    `keys` to send (one move, the confirming Enter, or a user dialog's fixed `keys`); `confirm`
    when they answer the dialog (a try); `person` says why nobody answers it automatically
    (then `keys` is empty); `target` is the text of the option being chosen.
    """

    keys: tuple[str, ...] = ()
    confirm: bool = False
    person: str = ""
    target: str = ""


def plan_answer(dialog: str, options: Sequence[str], cursor: int | None, choice: int | None, choose: str,
                keys: Sequence[str] = (), *, wraps: bool = True) -> Answer:
    """The next step in answering dialog `dialog`: one key at a time, from the screen alone.

    `options`/`cursor` are the dialog's option list as read (`read_menu`; empty/None when none
    was read), `choice` the index of the option `choose` names (`pick`), `keys` the fixed keys
    of a user-defined dialog without `choose` (sent as they are, as before choices existed).
    The cursor is moved one step toward the chosen option (the shorter way round unless `wraps`
    is False: see `moves`); Enter goes only when the cursor is on it. A dialog with nothing to
    choose, an option list that could not be read, or a choice that is not on screen (or is
    ambiguous) needs a person: it is never answered blindly.

    >>> plan_answer("trust", ("No, exit", "Yes, I trust this folder"), 0, 1, "^Yes")
    Answer(keys=('Down',), confirm=False, person='', target='Yes, I trust this folder')
    >>> plan_answer("trust", ("No, exit", "Yes, I trust this folder"), 1, 1, "^Yes").keys
    ('Enter',)
    >>> plan_answer("hooks", ("Review hooks", "Trust all and continue"), 0, None, "").person
    'hooks: no automatic answer; a person must choose'
    """
    if choose:
        if not options or cursor is None:
            return Answer(person=f"{dialog}: its options could not be read (to choose /{choose}/)")
        if choice is None:
            return Answer(person=f"{dialog}: no single option matches /{choose}/")
        target = options[choice]
        key = next_key(len(options), cursor, choice, wraps=wraps)
        return Answer((key,), key == "Enter", target=target)
    if keys:
        return Answer(tuple(keys), True)
    return Answer(person=f"{dialog}: no automatic answer; a person must choose")
