"""Ctrl-C during `up` stops again what that `up` had started — no half-started team is left without
its watchdog — says so in one line and exits 130. A real `agents up` process on a private socket,
interrupted while it waits for a service to be ready."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.tmux import wait_until, write_config

# Unwatched: the watchdog the first `up` starts (killed at once, but its first heal tick can beat
# the kill) must not start them — the second `up` is the one that starts them here.
TEAM = """
[[service]]
name = "quick"
cmd = ["sleep", "600"]
watch = "none"

[[service]]
name = "slow"
cmd = ["sleep", "600"]
ready_re = "never shows"
ready_timeout = 600
watch = "none"

[[agent]]
name = "alice"
watch = "none"
"""


def test_ctrl_c_during_up_stops_what_it_started_and_leaves_the_rest(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, TEAM + '\n[[agent]]\nname = "early"\n')
    tmux = TmuxRuntime(socket)
    before = subprocess.run([sys.executable, "-m", "agent_orchestrator", "--config", str(path), "up", "early"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert before.returncode == 0, before.stderr
    tmux.kill("t-watchdog")  # a team member that was running before this `up`, with no watchdog
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "--config", str(path), "up"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: "t-slow" in tmux.observe(), timeout=60)  # started; `up` now waits for it to be ready
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert stderr.strip().splitlines()[-1] == "interrupted: stopped again what this `up` had started (slow, quick); what was running before is untouched"
    assert set(tmux.observe()) == {"t-early"}  # alice and the watchdog never started; early was running before

