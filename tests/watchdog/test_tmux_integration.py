"""The watchdog against real tmux, real processes and the scriptable fake agent
(tests/support/fake_agent_cli.py): what only the real adapters can show.

A killed agent process healed through TmuxRuntime's observation and the launcher's exit record;
a SIGKILLed watchdog process releasing its lock with its state intact; a second watchdog
refusing; `up` starting the watchdog in its own session, which heals. The DECISIONS (crash loop,
stall/nudge/reboot, WAITING-UNTIL, usage limits, wakes, an invalid config edit) are whole ticks
over fakes in tests/watchdog/test_ticks.py.

Time moves through an injected clock (real time + an offset the test pushes forward), so a
stall takes no real seconds; tmux, the agents and delivery are all real.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.lock import LockHeld, lock_holder
from agent_orchestrator.watchdog.state import load_state
from tests.support.fake_agent import FAKE_BACKEND, fake_agent_block, inbox
from tests.support.tmux import WatchdogProcess, screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux

WATCHDOG = """
[watchdog]
signal_interval = 1
heavy_interval = 1
stall_grace = 5
limit_reset_slack = 5
limit_probe_fallback = 60
start_secs = 2
restart_backoff = 1
restart_backoff_max = 4
restart_burst = 3
restart_window = 600
"""


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def skip(self, seconds: float) -> None:
        self.offset += seconds


def setup(tmp_path: Path, socket: str, agents: str, extra: str = "") -> tuple[Project, Path]:
    path = write_config(tmp_path, socket, WATCHDOG + FAKE_BACKEND + extra + agents)
    return Project(load_config(path)), path


def events(project: Project, action: str | None = None) -> list[dict]:
    return [e for e in read_events(project.log_dir) if action is None or e["action"] == action]


def wait_ready(project: Project, *names: str) -> None:
    for name in names:
        session = project.config.agent(name).session  # type: ignore[union-attr]
        assert wait_until(screen_has(project.runtime, session, "fake>")), f"{name} did not start"


def test_heal_brings_a_killed_agent_back(tmp_path: Path, socket: str) -> None:
    project, path = setup(tmp_path, socket, fake_agent_block("a", tmp_path / "a.ctl", prompt="hello"))
    project.up(watchdog=False)
    wait_ready(project, "a")
    old = agent_pid(project.spec_dir, "t-a")
    os.kill(old, signal.SIGKILL)
    assert wait_until(lambda: project.status()[0].state == "dead")
    Watchdog(path).tick()
    assert wait_until(lambda: project.status()[0].state == "running")
    assert agent_pid(project.spec_dir, "t-a") != old
    assert [e["reason"] for e in events(project, "heal")] == ["exited with status 137"]


LOOP = """
[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]
"""


def loop_project(tmp_path: Path, socket: str, control: Path) -> tuple[Project, Path]:
    (tmp_path / "kickoff.md").write_text("Build phase {phase_id}.")
    (tmp_path / "plan.md").write_text("the plan")
    block = fake_agent_block("b", control, kind="loop", watch="heal+stall")
    return setup(tmp_path, socket, block, LOOP)


def test_state_survives_a_sigkilled_watchdog(tmp_path: Path, socket: str) -> None:
    control = tmp_path / "b.ctl"
    project, path = loop_project(tmp_path, socket, control)
    project.up(watchdog=False)
    wait_ready(project, "b")
    clock = Clock()
    Watchdog(path, clock=clock).tick()
    clock.skip(10)
    Watchdog(path, clock=clock).tick()  # nudges (a verified delivery: it is in the inbox now); this watchdog "dies" here
    assert len(inbox(control)) == 1
    dog = WatchdogProcess(path, project.log_dir, tmp_path / "watchdog.out")
    try:
        dog.wait_holding_lock()
        dog.wait_for(lambda: load_state(project.log_dir).pid == dog.pid, "did not tick")  # it read and wrote the state
        dog.sigkill()
    finally:
        dog.stop()
    # The kernel drops the flock when the last descriptor of the lock file's open file is closed:
    # normally as the killed process exits, but a child it was forking at that moment (a tmux
    # or git call between fork and exec) holds a copy until it execs, so the release is waited for.
    assert wait_until(lambda: lock_holder(project.log_dir) is None), f"lock still held by {lock_holder(project.log_dir)}"
    state = load_state(project.log_dir)
    assert state.agent("b").nudged_phase == "p1" and state.agent("b").idle_since is not None
    clock.skip(10)  # b is still stalled: the surviving nudge flag makes it a reboot, not a second nudge
    Watchdog(path, clock=clock).tick()
    assert len(inbox(control)) == 1 and len(events(project, "nudge")) == 1
    assert [e["action"] for e in events(project) if e["agent"] == "b"][-1] == "reboot"


def test_a_second_watchdog_refuses(tmp_path: Path, socket: str) -> None:
    _, path = setup(tmp_path, socket, fake_agent_block("a", tmp_path / "a.ctl"))
    first = Watchdog(path)
    first.lock.acquire()
    try:
        with pytest.raises(LockHeld) as info:
            Watchdog(path).run(once=True)
        assert f"pid {os.getpid()}" in str(info.value)
    finally:
        first.lock.release()
    Watchdog(path).run(once=True)  # free again: runs


def test_up_starts_the_watchdog_which_heals_within_heavy_interval(tmp_path: Path, socket: str) -> None:
    project, _ = setup(tmp_path, socket, fake_agent_block("a", tmp_path / "a.ctl"))
    outcomes = {o.name: o.action for o in project.up()}
    assert outcomes == {"a": "started", "watchdog": "started"}
    wait_ready(project, "a")
    assert wait_until(lambda: lock_holder(project.log_dir) is not None, timeout=60)  # a loaded machine starts it slowly
    os.kill(agent_pid(project.spec_dir, "t-a"), signal.SIGKILL)
    assert wait_until(lambda: events(project, "heal") != [], timeout=60)
    assert wait_until(lambda: project.status()[0].state == "running")
    project.down()
    assert wait_until(lambda: lock_holder(project.log_dir) is None)
