"""Bringing a freshly started CLI to its input box: answer startup dialogs, wait for ready."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from agent_orchestrator.screen.patterns import screen_patterns
from agent_orchestrator.config.schema import BackendConfig
from agent_orchestrator.screen.detect import find_dialog
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.protocol import Runtime


def wait_ready(
    runtime: Runtime,
    session: str,
    backend: BackendConfig,
    *,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Poll the pane until `ready_re` shows with no dialog up, answering dialogs by their keys.

    Gives up after `backend.startup_timeout` seconds (monotonic clock). Each dialog is answered
    at most three times, so a dialog whose keys do not work cannot loop forever. Returns the
    names of the dialogs answered. tmux errors (the pane died) end the wait.
    """
    deadline = clock() + backend.startup_timeout
    answered: list[str] = []
    ready = re.compile(backend.ready_re, re.MULTILINE) if backend.ready_re else None
    patterns = screen_patterns(backend)
    while clock() < deadline:
        try:
            screen = runtime.capture(session)
        except TmuxError:
            return answered
        dialog = find_dialog(screen, patterns)
        if dialog is not None and answered.count(dialog.name) < 3:
            if dialog.keys:
                runtime.send_key(session, *dialog.keys)
            answered.append(dialog.name)
        elif dialog is None and (ready is None or ready.search("\n".join(screen))):
            return answered
        sleep(poll)
    return answered
