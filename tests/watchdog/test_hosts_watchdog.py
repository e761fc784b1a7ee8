"""One watchdog over two machines, whole ticks on real tmux and a real sshd (host `b` on 127.0.0.1):
a dead agent on b is healed there; while b does not answer, the event log and the state say so,
its agent is not restarted blind, a message for it waits, and the local agent is still healed;
when b is back, nothing was lost — the same agent runs on, and the message is delivered."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.requests import request_watchdog
from tests.support.hosts import kill_remote_server, remote_socket, two_host_config
from tests.support.sshd import Sshd
from tests.support.tmux import kill_server, private_socket, screen_has, wait_until

pytestmark = pytest.mark.tmux


class Clock:
    """Real time plus an offset the test moves forward (heavy ticks without waiting for them)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def sockets() -> Iterator[tuple[str, str]]:
    local, remote = private_socket(), remote_socket()
    yield local, remote
    kill_server(local)
    kill_remote_server(remote)


def actions(log_dir: Path) -> list[tuple[str, str]]:
    return [(e.get("agent", ""), e["action"]) for e in read_events(log_dir)]


def test_one_watchdog_heals_both_machines_and_leaves_a_silent_host_alone(tmp_path: Path, sshd: Sshd,
                                                                         sockets: tuple[str, str]) -> None:
    path = two_host_config(tmp_path, sshd, local_socket=sockets[0], remote_socket=sockets[1], agents=[
        {"name": "alice"}, {"name": "bob", "host": "b", "dir": str(tmp_path)},
    ], extra={"watchdog": {"signal_interval": 1, "heavy_interval": 1, "start_secs": 1, "restart_backoff": 1}})
    clock = Clock()
    wd = Watchdog(path, clock=clock)
    proj = wd.project
    runtime = proj.runtime
    log_dir = proj.log_dir
    try:
        proj.up(watchdog=False)
        for session in ("t-alice", "t-bob"):
            assert wait_until(screen_has(runtime.inner, session, "demo>"), timeout=30)
        wd.tick()
        first = runtime.agent_pid("t-bob")
        assert first is not None
        # bob dies on b: healed there, by the same watchdog
        os.kill(first, signal.SIGKILL)  # b is this machine: its pids are ours
        assert wait_until(lambda: runtime.observe()["t-bob"].dead, timeout=20)
        clock.offset += 5
        result = wd.tick()
        assert ("bob", "heal") in actions(log_dir), result.actions
        assert wait_until(lambda: not runtime.observe()["t-bob"].dead and runtime.agent_pid("t-bob") not in (None, first), timeout=30), \
            (list(read_events(log_dir))[-5:], runtime.observe().get("t-bob"), runtime.inner.remotes["b"].records)
        healed = runtime.agent_pid("t-bob")
        # b goes away; alice dies meanwhile; a message for bob comes in
        sshd.stop()
        alice = runtime.agent_pid("t-alice")
        assert alice is not None
        os.kill(alice, signal.SIGKILL)
        assert wait_until(lambda: runtime.inner.local.observe()["t-alice"].dead, timeout=20)
        request_watchdog(log_dir, "send", "bob", text="while you were away", kind="send", why="test")
        before = len(actions(log_dir))
        clock.offset += 5
        result = wd.tick()
        new = actions(log_dir)[before:]
        assert ("", "host-unreachable") in new and ("alice", "heal") in new
        assert not [a for a in new if a[0] == "bob"]  # no heal, no delivery, no failure: unknown, left alone
        assert "b" in wd.state.hosts and [m.text for m in wd.state.agent("bob").outbox] == ["while you were away"]
        assert "bob" not in result.observation.agents and result.observation.unreachable.keys() == {"b"}
        clock.offset += 5
        wd.tick()
        assert actions(log_dir).count(("", "host-unreachable")) == 1
        # b is back: nothing was lost
        sshd.start()
        clock.offset += 5
        wd.tick()
        assert ("", "host-reachable") in actions(log_dir)
        assert wd.state.hosts == {}
        assert runtime.agent_pid("t-bob") == healed  # the same process ran on all along
        for _ in range(5):  # the outbox delivers at a turn boundary, a tick or two later
            if ("bob", "send") in actions(log_dir):
                break
            clock.offset += 2
            wd.tick()
        assert ("bob", "send") in actions(log_dir)
        assert wait_until(screen_has(runtime.inner, "t-bob", "echo: while you were away"), timeout=20)
    finally:
        proj.down()


def test_a_tick_asks_a_host_once_for_its_panes_and_once_for_every_changed_screen(tmp_path: Path, sshd: Sshd,
                                                                                 sockets: tuple[str, str]) -> None:
    names = [f"r{i}" for i in range(4)]
    path = two_host_config(tmp_path, sshd, local_socket=sockets[0], remote_socket=sockets[1], agents=[
        {"name": "alice"}, *({"name": n, "host": "b", "dir": str(tmp_path)} for n in names)])
    clock = Clock()
    clock.offset = 5  # every capture is stamped after the screens' last activity
    wd = Watchdog(path, clock=clock)
    proj = wd.project
    hosts = proj.hosts
    assert hosts is not None
    remote = hosts.remotes["b"]
    try:
        proj.up(watchdog=False)
        for name in ["alice", *names]:
            assert wait_until(screen_has(proj.runtime.inner, f"t-{name}", "demo>"), timeout=30)

        def ssh_calls_of_a_tick() -> int:
            before = remote.transport.calls
            clock.offset += 5
            wd.tick()
            return remote.transport.calls - before

        assert ssh_calls_of_a_tick() == 2  # list-panes + launch records, then ONE capture of the 4 new screens
        assert {n: wd.state.agent(n).facts is not None for n in names} == dict.fromkeys(names, True)
        assert ssh_calls_of_a_tick() == 1  # nothing changed: the observation only
        # two panes change on b: still one capture call for both
        activity = {s: p.window_activity for s, p in remote.observe().items()}
        # tmux keeps activity in whole seconds: type once a new second has begun, so it shows
        assert wait_until(lambda: time.time() >= int(max(activity.values())) + 1, timeout=5)
        for name in names[:2]:
            remote.send_key(f"t-{name}", "x", "Enter")
        assert wait_until(lambda: all(remote.observe()[f"t-{n}"].window_activity != activity[f"t-{n}"] for n in names[:2]), timeout=20)
        assert wait_until(screen_has(proj.runtime.inner, f"t-{names[1]}", "echo: x"), timeout=20)
        assert ssh_calls_of_a_tick() == 2
    finally:
        proj.down()
