"""Helpers for tests that drive a real tmux server on a private socket."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.lock import lock_holder


def private_socket() -> str:
    """A fresh socket name no other test or user session shares."""
    return f"ao-test-{secrets.token_hex(4)}"


def kill_server(socket: str) -> None:
    """Stop the private server (and every pane process in it) and remove its socket file."""
    TmuxRuntime(socket).kill_server()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def screen_has(runtime: TmuxRuntime, session: str, text: str) -> Callable[[], bool]:
    """A predicate: `text` is somewhere in the session's visible screen or recent scrollback."""

    def check() -> bool:
        try:
            return text in "\n".join(runtime.capture_history(session, 200))
        except Exception:  # noqa: BLE001 - a session that is gone or not up yet just does not have it
            return False

    return check


def write_config(directory: Path, socket: str, body: str, prefix: str = "t-") -> Path:
    """An agents.toml on the demo backend and the private socket, plus `body`."""
    path = directory / "agents.toml"
    head = f"""
    [defaults]
    session_prefix = "{prefix}"
    log_dir = "run"
    backend = "demo"
    tmux_socket = "{socket}"
    width = 120
    height = 40
    """
    path.write_text(textwrap.dedent(head) + textwrap.dedent(body), encoding="utf-8")
    return path


class WatchdogProcess:
    """`agents watchdog --config <config>` in a process of its own, its output in `log`.

    Every wait is bounded and on the real condition, and ends early (failing with the process's
    output) if the process exits: a loaded machine makes it slower, never wrong.
    """

    def __init__(self, config: Path, log_dir: Path, log: Path) -> None:
        self.log_dir = log_dir
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog", "--config", str(config)],
                                         stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        """Wait until `predicate` holds; fail naming `what` if it does not in time or the process exits."""
        wait_until(lambda: predicate() or self.proc.poll() is not None, timeout=timeout)
        assert predicate(), f"watchdog pid {self.pid}: {what} (exit {self.proc.poll()}); output:\n{self.output()}"

    def wait_holding_lock(self) -> None:
        self.wait_for(lambda: lock_holder(self.log_dir) == self.pid, "did not take the project lock")

    def sigkill(self) -> None:
        """SIGKILL it and reap it."""
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Make sure it is gone (for a `finally`)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
