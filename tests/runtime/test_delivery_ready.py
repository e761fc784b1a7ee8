"""`deliver` does not type into a CLI that has not drawn its input box yet (real tmux, private socket).

A CLI still starting up — Claude Code took 8 s under load in the chaos suite — discards what is
typed before its UI is up, and an empty screen then looked like a submitted message: the
watchdog's re-announcement to a healed reviewer was lost and the run hung. The pane here plays
such a CLI: it flushes pending input when it is ready (as a TUI entering raw mode does), then
draws the demo backend's `demo> ` box and echoes each line it gets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.delivery import deliver
from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.tmux import screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux

SLOW_CLI = """
import os, sys, termios, time
gate = sys.argv[1]
print("starting up...", flush=True)
while not os.path.exists(gate):
    time.sleep(0.05)
termios.tcflush(0, termios.TCIFLUSH)  # what was typed before the UI was up is gone
while True:
    sys.stdout.write("demo> ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        break
    print("got: " + line.rstrip(), flush=True)
"""


def test_a_cli_without_its_input_box_is_not_typed_into(socket: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, socket, '[[agent]]\nname = "slow"\n'))
    backend = config.backend_of(config.agents[0])
    runtime = TmuxRuntime(socket, spec_dir=tmp_path / "launch")
    gate = tmp_path / "ready"
    runtime.start("slow", [sys.executable, "-c", SLOW_CLI, str(gate)], cwd=tmp_path, width=120, height=20, spec_dir=tmp_path / "launch")
    assert wait_until(screen_has(runtime, "slow", "starting up..."), timeout=30), runtime.capture("slow")
    early = deliver(runtime, "slow", "Watchdog: still open for you", backend, attempts=1, settle=0.1)
    assert (early.ok, early.attempts) == (False, 0) and "no input box" in early.reason, early
    gate.touch()
    assert wait_until(screen_has(runtime, "slow", "demo>"), timeout=30), runtime.capture("slow")
    late = deliver(runtime, "slow", "Watchdog: still open for you", backend, attempts=3, settle=0.2)
    assert late.ok, late
    assert wait_until(screen_has(runtime, "slow", "got: Watchdog: still open for you"), timeout=30), runtime.capture("slow")
    assert sum("got:" in line for line in runtime.capture("slow")) == 1
