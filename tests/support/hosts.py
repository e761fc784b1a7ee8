"""A two-machine project for tests: this machine and host `b`, a private sshd on 127.0.0.1.

`two_host_config` writes an agents.toml on the demo backend whose `[[host]]` `b` is the test's
sshd (tests/support/sshd.py), with its own tmux socket and a log_dir whose name holds a space
and quotes (everything that crosses to the host is an argument list, quoted for its shell).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import tomli_w

from tests.support.sshd import Sshd


def remote_socket() -> str:
    """A fresh tmux socket name for host b's server."""
    return f"ao-test-b-{secrets.token_hex(4)}"


def kill_remote_server(socket: str) -> None:
    """Stop host b's tmux server (on this machine, so directly) and its socket file."""
    from tests.support.tmux import kill_server

    kill_server(socket)


def two_host_config(folder: Path, sshd: Sshd, *, local_socket: str, remote_socket: str, agents: list[dict[str, Any]],
                    services: list[dict[str, Any]] | None = None, prefix: str = "t-", extra: dict[str, Any] | None = None) -> Path:
    """Write `folder/agents.toml`: demo backend, `[[host]]` b, the given agents and services."""
    remote_log = folder / "b's \"remote\" logs"
    raw: dict[str, Any] = {
        "defaults": {"session_prefix": prefix, "log_dir": "run", "backend": "demo", "tmux_socket": local_socket, "width": 120,
                     "height": 40},
        "host": [sshd.host_table("b", log_dir=remote_log, tmux_socket=remote_socket)],
        "agent": agents,
    }
    if services:
        raw["service"] = services
    raw.update(extra or {})
    path = folder / "agents.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def tmux_sessions(socket: str) -> list[str]:
    """Session names on a tmux server of this machine ([] without a server)."""
    done = subprocess.run(["tmux", "-L", socket, "list-sessions", "-F", "#{session_name}"], capture_output=True, text=True, check=False)
    return done.stdout.split() if done.returncode == 0 else []
