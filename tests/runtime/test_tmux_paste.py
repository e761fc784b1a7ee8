"""`TmuxRuntime.paste` against a real tmux server on a private socket: the text reaches the pane
whole, and a process SIGKILLed right after its paste (the chaos suite's riskiest moment for the
watchdog) leaves no temp file behind — the text goes to tmux through `load-buffer -`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.tmux import screen_has, wait_until

pytestmark = pytest.mark.tmux

# Echoes what it reads (a pane that shows what was pasted into it).
ECHO = "import sys\nprint('READY', flush=True)\nfor line in sys.stdin:\n    print('got:', line.rstrip(), flush=True)"

# Pastes argv[2] into session argv[1], then dies by SIGKILL the moment paste-buffer returned.
PASTE_THEN_DIE = """
import os, signal, sys
from agent_orchestrator.runtime.tmux import TmuxRuntime

runtime = TmuxRuntime(sys.argv[1])
real = runtime.cmd

def cmd(*args, **kwargs):
    out = real(*args, **kwargs)
    if args[0] == "paste-buffer":
        os.kill(os.getpid(), signal.SIGKILL)
    return out

runtime.cmd = cmd
runtime.paste(sys.argv[2], sys.argv[3])
"""


@pytest.fixture
def runtime(socket: str, tmp_path: Path) -> TmuxRuntime:
    rt = TmuxRuntime(socket, spec_dir=tmp_path / "launch")
    rt.start("echo", [sys.executable, "-c", ECHO], cwd=tmp_path, width=120, height=20, spec_dir=tmp_path / "launch")
    assert wait_until(screen_has(rt, "echo", "READY"), timeout=30), "the echo pane did not come up"
    return rt


def test_a_paste_reaches_the_pane_whole(runtime: TmuxRuntime) -> None:
    text = "Watchdog: new claim; `git pull` — ünïcödé ends in a semicolon;"
    runtime.paste("echo", text)
    runtime.send_key("echo", "Enter")
    assert wait_until(screen_has(runtime, "echo", "got: " + text), timeout=30), runtime.capture("echo")


def test_a_process_killed_right_after_its_paste_leaves_no_temp_file(runtime: TmuxRuntime, socket: str, tmp_path: Path) -> None:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-c", PASTE_THEN_DIE, socket, "echo", "pasted by a dying watchdog"],
                          env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    runtime.send_key("echo", "Enter")
    assert wait_until(screen_has(runtime, "echo", "got: pasted by a dying watchdog"), timeout=30), runtime.capture("echo")
    assert sorted(p.name for p in tmp.iterdir()) == []
