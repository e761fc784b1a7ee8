"""Screen → facts: the pure reading of one capture that the policies work from."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_orchestrator.config.schema import BackendConfig
from agent_orchestrator.screen.detect import PaneState, classify, input_content, is_fatal, read_dialog, waiting_until
from agent_orchestrator.screen.limits import find_limit
from agent_orchestrator.screen.menu import Answer, plan_answer
from agent_orchestrator.screen.patterns import screen_patterns

# Spinner glyphs and numbers change every second while a CLI shows a timer ("(45s · ↓ 24
# tokens)", "Running… (3m 20s)"); they are folded out of the content hash so that a hung turn
# with a ticking timer still counts as a screen that did not change.
_TICKING = re.compile(r"[0-9·✢*✶✻✽•◦⠁-⣿]+")
_LIMIT_TAIL = 15  # a usage-limit banner is in the latest turn, at the bottom of the screen


@dataclass(frozen=True)
class ScreenFacts:
    """What one capture of an agent's pane showed (see `read_facts`).

    `state` is a `screen.detect.PaneState` value; `active`: working right now; `waiting_until`:
    epoch of a current `WAITING-UNTIL:` marker; `limit_banner`/`limit_reset`: a usage-limit banner
    and its parsed reset (epoch, None if unparseable); `fatal`: an unrecoverable error is on
    screen; `input`: the text in the input line; `captured_at`: epoch of the capture; `hash`:
    `content_hash`.

    A blocking dialog (`screen.detect.read_dialog`): `dialog` its name (`unknown` for an option
    list no pattern names); `dialog_options` its option texts as read, top to bottom (empty when
    none could be read); `dialog_cursor` the index of the option the cursor is on;
    `dialog_choose` the regex naming the option to choose ("" = a person must answer);
    `dialog_choice` the index of the one option it names (None: none or several on screen);
    `dialog_keys` the fixed keys of a user-defined dialog without `choose`. `dialog_answer()`
    plans the next key from these.
    """

    hash: str = ""
    state: str = ""
    active: bool = False
    waiting_until: float | None = None
    limit_banner: str | None = None
    limit_reset: float | None = None
    fatal: bool = False
    dialog: str | None = None
    dialog_keys: tuple[str, ...] = ()
    input: str = ""
    captured_at: float = 0.0
    dialog_options: tuple[str, ...] = ()
    dialog_cursor: int | None = None
    dialog_choose: str = ""
    dialog_choice: int | None = None

    def dialog_answer(self, *, wraps: bool = True) -> Answer | None:
        """The next step in answering the dialog on screen (`screen.menu.plan_answer`); None
        when no dialog is up."""
        if not self.dialog:
            return None
        return plan_answer(self.dialog, self.dialog_options, self.dialog_cursor, self.dialog_choice, self.dialog_choose,
                           self.dialog_keys, wraps=wraps)


def content_hash(screen: Sequence[str]) -> str:
    """Hash of the screen with timers and spinner glyphs folded out (hex, 16 chars)."""
    text = "\n".join(_TICKING.sub("#", line.rstrip()) for line in screen)
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()


def read_facts(
    screen: Sequence[str],
    backend: BackendConfig,
    *,
    current_command: str,
    now: float,
    session_status: str | None = None,
) -> ScreenFacts:
    """Facts from one capture of an agent's pane (`now`: epoch seconds of the capture)."""
    patterns = screen_patterns(backend)
    lines = list(screen)
    state = classify(lines, patterns, current_command=current_command,
                     process_names=backend.process_name, session_status=session_status)
    active = state in (PaneState.BUSY, PaneState.RATE_LIMITED_RETRYING)
    if not active and backend.active_re and not backend.screen:
        # A backend without built-in detectors: its own active_re on the live bottom decides.
        active = any(re.search(backend.active_re, line) for line in lines[-5:])
    until = waiting_until(lines, patterns)
    if until is None and not backend.screen:
        until = _last_line_waiting(lines)
    banner = None
    reset = None
    # A screen backend's banner regex is its table's (the backend's own limit_re already laid over it).
    limit_re = patterns.limit_re if backend.screen else backend.limit_re
    if limit_re:
        found = find_limit(lines[-_LIMIT_TAIL:], limit_re, datetime.fromtimestamp(now, UTC))
        if found is not None:
            banner = found.line.strip()
            reset = found.reset_at.timestamp() if found.reset_at else None
    dialog = read_dialog(lines, patterns)
    fatal = is_fatal(lines, patterns) if backend.screen else bool(backend.fatal_re and any(re.search(backend.fatal_re, ln) for ln in lines[-_LIMIT_TAIL:]))
    return ScreenFacts(
        hash=content_hash(lines),
        state=str(state),
        active=active,
        waiting_until=until.timestamp() if until else None,
        limit_banner=banner,
        limit_reset=reset,
        fatal=fatal,
        dialog=dialog.name if dialog else None,
        dialog_keys=tuple(dialog.keys) if dialog else (),
        input=input_content(lines, patterns) or "",
        captured_at=now,
        dialog_options=dialog.options if dialog else (),
        dialog_cursor=dialog.cursor if dialog else None,
        dialog_choose=dialog.choose if dialog else "",
        dialog_choice=dialog.choice if dialog else None,
    )


_WAITING = re.compile(r"^\s*WAITING-UNTIL:\s*(\S+)\s*$")


def _last_line_waiting(lines: Sequence[str]) -> datetime | None:
    """`WAITING-UNTIL:` on the last non-empty line above an input line (generic backends)."""
    for line in reversed(lines):
        if not line.strip():
            continue
        m = _WAITING.match(line)
        if m:
            try:
                when = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
            except ValueError:
                return None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        if re.match(r"^\S+>\s*$", line):  # an empty prompt line such as "demo> ": look above it
            continue
        return None
    return None
