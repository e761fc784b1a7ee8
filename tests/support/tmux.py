"""Helpers for tests that drive a real tmux server on a private socket."""

from __future__ import annotations

import secrets
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from agent_orchestrator.runtime.tmux import TmuxRuntime


def private_socket() -> str:
    """A fresh socket name no other test or user session shares."""
    return f"ao-test-{secrets.token_hex(4)}"


def kill_server(socket: str) -> None:
    """Stop the private server (and every pane process in it) and remove its socket file."""
    TmuxRuntime(socket).kill_server()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.1) -> bool:
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
        except Exception:
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
