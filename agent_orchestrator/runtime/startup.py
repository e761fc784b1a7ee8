"""Bringing a freshly started CLI to its input box: answer startup dialogs, wait for ready."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from agent_orchestrator.config.schema import BackendConfig
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.protocol import Runtime
from agent_orchestrator.screen.detect import read_dialog
from agent_orchestrator.screen.facts import content_hash
from agent_orchestrator.screen.patterns import screen_patterns

MAX_ANSWERS = 3  # confirms (tries) per dialog
MAX_MOVES = 12  # cursor moves in all
KEY_SETTLE = 10.0  # seconds: a key whose screen has not changed by then was lost or did nothing
STEADY = 1.0  # seconds a dialog's screen must stay the same before a key goes to it


def wait_ready(
    runtime: Runtime,
    session: str,
    backend: BackendConfig,
    *,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Poll the pane until `ready_re` shows with no dialog up, answering dialogs on the way.

    A dialog is answered by what its data says to choose, as the watchdog's dialogs policy does
    (`screen.detect.read_dialog`, `DialogReading.answer`): one key per capture — an Up or Down
    toward the wanted option, Enter only once a capture shows the cursor on it — on a screen
    that has stayed the same for `STEADY` seconds, and the next key only once a capture differs
    from the one the last key was sent on (or `KEY_SETTLE`
    seconds passed; a move round the end that changed nothing makes the next ones go the direct
    way). Each dialog is confirmed at most `MAX_ANSWERS` times (a dialog still up
    after its Enter is tried again), so one that does not go away cannot loop forever. A dialog
    a person must answer (nothing to choose, the wanted option not on screen, an unknown option
    list) gets no key: the wait goes on, in case someone answers it, until the timeout.

    Gives up after `backend.startup_timeout` seconds (monotonic clock). Returns the names of the
    dialogs confirmed, once per confirm. tmux errors (the pane died) end the wait.
    """
    deadline = clock() + backend.startup_timeout
    answered: list[str] = []
    ready = re.compile(backend.ready_re, re.MULTILINE) if backend.ready_re else None
    patterns = screen_patterns(backend)
    sent_on, sent_at, moves, wraps = "", 0.0, 0, True
    seen, seen_at = "", clock()  # the screen shown, and since when
    while clock() < deadline:
        try:
            screen = runtime.capture(session)
        except TmuxError:
            return answered
        dialog = read_dialog(screen, patterns)
        shown = content_hash(screen)
        if shown != seen:
            seen, seen_at = shown, clock()
        if dialog is None:
            if ready is None or ready.search("\n".join(screen)):
                return answered
        elif clock() - seen_at < STEADY:
            pass  # just drawn: a CLI may drop a key sent the moment its dialog appears
        elif shown != sent_on or clock() - sent_at >= KEY_SETTLE:
            answer = dialog.answer(wraps=wraps)
            if shown == sent_on and answer.keys and not answer.confirm and wraps:
                wraps = False  # a move the shorter way round changed nothing: the list stops at its ends
                answer = dialog.answer(wraps=False)
            allowed = answered.count(dialog.name) < MAX_ANSWERS if answer.confirm else moves < MAX_MOVES
            if answer.keys and allowed:
                try:
                    runtime.send_key(session, *answer.keys)
                except TmuxError:
                    return answered
                sent_on, sent_at = shown, clock()
                if answer.confirm:
                    answered.append(dialog.name)
                else:
                    moves += 1
        sleep(poll)
    return answered
