"""A project on two machines — this one and host `b` (a private sshd on 127.0.0.1) — through the
verbs' core (`Project`): where each unit runs, status, send, logs, attach, up and down, and what
they do while b does not answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.hosts import PROBE_TIMEOUT, HostsRuntime
from agent_orchestrator.runtime.project import Project
from tests.support.hosts import kill_remote_server, remote_socket, tmux_sessions, two_host_config
from tests.support.sshd import HOST_ALIAS, Sshd
from tests.support.tmux import kill_server, private_socket, screen_has, wait_until

pytestmark = pytest.mark.tmux


@pytest.fixture
def sockets() -> Iterator[tuple[str, str]]:
    local, remote = private_socket(), remote_socket()
    yield local, remote
    kill_server(local)
    kill_remote_server(remote)


def project(tmp_path: Path, sshd: Sshd, sockets: tuple[str, str]) -> Project:
    path = two_host_config(tmp_path, sshd, local_socket=sockets[0], remote_socket=sockets[1], agents=[
        {"name": "alice"},
        {"name": "bob", "host": "b", "dir": str(tmp_path)},
    ], services=[{"name": "echo", "cmd": ["{python}", "-c", "import time; print('serving', flush=True); time.sleep(600)"], "host": "b",
                  "dir": str(tmp_path)}])
    return Project(load_config(path))


def test_each_unit_runs_on_its_machine_and_the_verbs_reach_it(tmp_path: Path, sshd: Sshd, sockets: tuple[str, str]) -> None:
    proj = project(tmp_path, sshd, sockets)
    assert isinstance(proj.hosts, HostsRuntime)
    outcomes = {o.name: o.action for o in proj.up(watchdog=False)}
    assert outcomes == {"echo": "started", "alice": "started", "bob": "started"}
    assert sorted(tmux_sessions(sockets[0])) == ["t-alice"]
    assert sorted(tmux_sessions(sockets[1])) == ["t-bob", "t-echo"]
    assert wait_until(screen_has(proj.runtime.inner, "t-bob", "demo>"), timeout=20)
    assert wait_until(screen_has(proj.runtime.inner, "t-echo", "serving"), timeout=20)
    rows = {r.name: r for r in proj.status()}
    assert {n: (r.state, r.host) for n, r in rows.items()} == {"alice": ("running", ""), "bob": ("running", "b"), "echo": ("running", "b")}
    assert rows["bob"].pid is not None
    # a message pasted and submitted on the host, confirmed by its screen; its logs from there
    result = proj.send("bob", "hello 'far' \"away\"")
    assert result.ok, result.reason
    assert wait_until(lambda: "echo: hello 'far' \"away\"" in "\n".join(proj.logs("bob", 20)), timeout=20)
    # attach hands the terminal to ssh -t, tmux on the host, the exact session
    argv = proj.attach_argv(proj.select(["bob"])[0])
    assert argv[0] == "ssh" and "-t" in argv and argv[-2] == HOST_ALIAS
    assert argv[-1] == f"tmux -L {sockets[1]} attach-session -t =t-bob"
    assert proj.attach_argv(proj.select(["alice"])[0])[-3:] == ["attach-session", "-t", "=t-alice"]
    # a restart in place on the host
    before = rows["bob"].pid
    assert proj.start(proj.select(["bob"])[0], proj.runtime.observe()["t-bob"]).action == "restarted"
    assert wait_until(lambda: {x.name: x for x in proj.status()}["bob"].pid not in (None, before), timeout=20)
    down = {o.name: o.action for o in proj.down()}
    assert down == {"watchdog": "absent", "alice": "stopped", "bob": "stopped", "echo": "stopped"}
    assert tmux_sessions(sockets[0]) == [] and tmux_sessions(sockets[1]) == []
    assert not proj.hosts.remotes["b"].transport.control.exists()  # down closes the master connection


def test_a_silent_host_is_unreachable_in_status_and_nothing_is_started_blind(tmp_path: Path, sshd: Sshd, sockets: tuple[str, str]) -> None:
    proj = project(tmp_path, sshd, sockets)
    proj.up(watchdog=False)
    sshd.stop()
    rows = {r.name: r for r in proj.status()}
    assert {n: r.state for n, r in rows.items()} == {"alice": "running", "bob": "unreachable", "echo": "unreachable"}
    assert "Connection refused" in proj.unreachable()["b"]
    remote = proj.hosts.remotes["b"]  # type: ignore[union-attr]
    proj.status()
    assert remote.observe_timeout == PROBE_TIMEOUT  # an unreachable host is probed, not waited for
    again = {o.name: o for o in proj.up(watchdog=False)}
    assert again["alice"].action == "running"
    assert again["bob"].action == "failed" and again["bob"].detail.startswith("host b does not answer")
    sent = proj.send("bob", "hi")
    assert not sent.ok and sent.reason.startswith("host b does not answer")
    down = {o.name: o.action for o in proj.down(["alice", "bob"])}
    assert down == {"alice": "stopped", "bob": "failed"}
    sshd.start()
    rows = {r.name: r.state for r in proj.status()}
    assert rows == {"alice": "stopped", "bob": "running", "echo": "running"}  # it ran on all along
    assert proj.unreachable() == {}
    proj.status()
    assert remote.observe_timeout is None
    proj.down()
    assert tmux_sessions(sockets[1]) == []
