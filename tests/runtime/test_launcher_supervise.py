"""The launcher's supervised mode (the watchdog's own session): a killed or crashed child comes
back, a crash loop ends in a visible record, a clean exit or a stop ends supervision. Real
processes, no tmux."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from agent_orchestrator.runtime.launcher import supervision, write_spec
from tests.support.tmux import wait_until

FAST = {"backoff": 0.05, "max_backoff": 0.1, "burst": 3, "window": 60, "kill_delay": 0.05}


def launch(spec: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "agent_orchestrator.runtime.launcher", str(spec)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pid_of(spec: Path) -> int | None:
    try:
        return int(json.loads(spec.with_name(spec.name + ".pid").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_a_killed_child_is_restarted_and_a_stop_ends_supervision(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "w", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, {}, supervise=FAST)
    launcher = launch(spec)
    try:
        assert wait_until(lambda: pid_of(spec) is not None, timeout=20)
        first = pid_of(spec)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: pid_of(spec) not in (None, first), timeout=20)
        record = supervision(tmp_path, "w")
        assert record is not None and record["restarts"] == 1 and record["last_exit"] == 128 + signal.SIGKILL and record["state"] == "running"
        launcher.send_signal(signal.SIGTERM)  # `agents down` kills the session: the launcher stops, no restart
        assert launcher.wait(timeout=20) == 128 + signal.SIGTERM
        second = pid_of(spec)
        assert second is not None and wait_until(lambda: not _alive(second), timeout=20)
    finally:
        if launcher.poll() is None:
            launcher.kill()


def test_a_crash_loop_ends_in_a_visible_record(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "w", [sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path, {}, supervise=FAST)
    launcher = launch(spec)
    assert launcher.wait(timeout=60) == 3
    record = supervision(tmp_path, "w")
    assert record is not None and record["state"] == "crash-loop" and record["restarts"] == 3 and record["last_exit"] == 3
    assert "4 crashes within 60s" in str(record["detail"])


def test_a_clean_exit_ends_supervision_and_no_policy_means_no_restart(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "w", [sys.executable, "-c", "pass"], tmp_path, {}, supervise=FAST)
    assert launch(spec).wait(timeout=30) == 0 and supervision(tmp_path, "w") is None
    plain = write_spec(tmp_path, "p", [sys.executable, "-c", "import sys; sys.exit(5)"], tmp_path, {})
    assert launch(plain).wait(timeout=30) == 5  # exits with its child: no restart
    assert supervision(tmp_path, "p") is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
