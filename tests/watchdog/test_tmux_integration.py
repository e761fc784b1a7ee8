"""The watchdog against real tmux and the scriptable fake agent (tests/support/fake_agent_cli.py).

Time moves through an injected clock (real time + an offset the test pushes forward), so a
300-second stall takes no 300 seconds; tmux, the agents and delivery are all real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.lock import LockHeld, lock_holder
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state
from tests.support.fake_agent import FAKE_BACKEND, fake_agent_block, inbox, set_mode
from tests.support.tmux import screen_has, wait_until, write_config

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


def test_crash_loop_ends_in_needs_human_until_restart_clears_it(tmp_path: Path, socket: str) -> None:
    control = tmp_path / "c.ctl"
    set_mode(control, "idle", crash_on_start=True)
    project, path = setup(tmp_path, socket, fake_agent_block("c", control))
    project.up(watchdog=False)
    clock = Clock()
    dog = Watchdog(path, clock=clock)
    for _ in range(12):
        wait_until(lambda: project.status()[0].state == "dead", timeout=5)
        dog.tick()
        clock.skip(5)
    assert [e["action"] for e in events(project) if e["agent"] == "c"] == ["heal", "heal", "heal", "needs-human"]
    assert load_state(project.log_dir).agent("c").needs_human
    from typer.testing import CliRunner

    from agent_orchestrator.cli.app import app, normalize_argv

    status = CliRunner().invoke(app, normalize_argv(["status", "--config", str(path)]))
    assert "needs-human" in status.output
    set_mode(control, "idle", crash_on_start=False)
    restarted = CliRunner().invoke(app, normalize_argv(["restart", "c", "--config", str(path)]))
    assert restarted.exit_code == 0, restarted.output
    dog.tick()
    assert not load_state(project.log_dir).agent("c").needs_human
    assert [e["action"] for e in events(project) if e["agent"] == "c"][-1] == "cleared"
    wait_ready(project, "c")


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


def test_stall_nudge_then_reboot(tmp_path: Path, socket: str) -> None:
    control = tmp_path / "b.ctl"
    project, path = loop_project(tmp_path, socket, control)
    project.up(watchdog=False)
    wait_ready(project, "b")
    clock = Clock()
    dog = Watchdog(path, clock=clock)
    dog.tick()
    assert inbox(control) == []
    clock.skip(10)  # idle well past stall_idle = 3
    dog.tick()
    nudges = [m["text"] for m in inbox(control)]
    assert len(nudges) == 1 and "phase p1" in nudges[0] and "status.md" in nudges[0] and "## DONE" in nudges[0]
    first_pid = agent_pid(project.spec_dir, "t-b")
    dog.tick()
    assert agent_pid(project.spec_dir, "t-b") == first_pid  # a fresh idle window follows the nudge
    clock.skip(10)
    dog.tick()
    assert wait_until(lambda: agent_pid(project.spec_dir, "t-b") != first_pid)
    assert wait_until(screen_has(project.runtime, "t-b", "Build phase p1."))  # rebooted with its kickoff
    assert [e["action"] for e in events(project) if e["agent"] == "b"] == ["nudge", "reboot"]


def test_waiting_until_is_left_alone_and_a_missed_one_is_acted_on(tmp_path: Path, socket: str) -> None:
    control = tmp_path / "b.ctl"
    project, path = loop_project(tmp_path, socket, control)
    project.up(watchdog=False)
    wait_ready(project, "b")
    clock = Clock()
    dog = Watchdog(path, clock=clock)
    set_mode(control, "waiting", in_seconds=3600)
    assert wait_until(screen_has(project.runtime, "t-b", "WAITING-UNTIL:"))
    time.sleep(1.1)
    dog.tick()
    clock.skip(600)  # idle for 10 minutes, but waiting on purpose for an hour
    dog.tick()
    assert inbox(control) == [] and events(project, "nudge") == []
    clock.skip(3600 + 10)  # past the time + stall_grace: the wait was missed
    dog.tick()
    assert len(inbox(control)) == 1 and "idle" in events(project, "nudge")[0]["reason"]


def test_usage_limit_window_is_respected_then_probed_and_rearmed(tmp_path: Path, socket: str) -> None:
    control = tmp_path / "b.ctl"
    project, path = loop_project(tmp_path, socket, control)
    project.up(watchdog=False)
    wait_ready(project, "b")
    clock = Clock()
    dog = Watchdog(path, clock=clock)
    set_mode(control, "limit", resets="in 2m")
    assert wait_until(screen_has(project.runtime, "t-b", "You've hit your session limit"))
    time.sleep(1.1)
    dog.tick()
    [opened] = events(project, "usage-limit")
    assert opened["quiet_until"] == pytest.approx(time.time() + 125, abs=5)
    clock.skip(60)  # idle and limited: no nudge, no reboot, no probe
    dog.tick()
    assert inbox(control) == [] and events(project, "nudge") == [] and events(project, "reboot") == []
    clock.skip(70)  # past the reset + slack: one probe
    dog.tick()
    assert [e["action"] for e in events(project) if e["agent"] == "b"][-1] == "probe"
    assert len(inbox(control)) == 1
    assert wait_until(lambda: "resets in 2m" in "\n".join(project.logs("b", 5)))
    time.sleep(1.1)
    dog.tick()  # the banner came back: re-armed, not probed again
    assert events(project, "usage-limit-rearmed") and len(inbox(control)) == 1


def test_persistent_and_task_wakes(tmp_path: Path, socket: str) -> None:
    sup, job = tmp_path / "sup.ctl", tmp_path / "job.ctl"
    agents = (fake_agent_block("sup", sup, prompt="I supervise") + 'wake = { interval = 30, prompt = "check the queue" }\n'
              + fake_agent_block("job", job, kind="task") + 'wake = { interval = 30, prompt = "run the report" }\n')
    project, path = setup(tmp_path, socket, agents)
    project.up(watchdog=False)  # tasks are not started by up
    wait_ready(project, "sup")
    assert "job" not in {r.name for r in project.status() if r.state == "running"}
    clock = Clock()
    dog = Watchdog(path, clock=clock)
    dog.tick()
    clock.skip(31)
    dog.tick()
    assert [m["text"] for m in inbox(sup)] == ["check the queue"]
    assert wait_until(screen_has(project.runtime, "t-job", "kickoff: run the report"))
    set_mode(job, "busy")  # the run is still active at the next wake: not re-run
    assert wait_until(screen_has(project.runtime, "t-job", "esc to interrupt"))
    clock.skip(31)
    dog.tick()
    assert events(project, "wake-skipped")[-1]["agent"] == "job"


def test_state_survives_a_sigkilled_watchdog(tmp_path: Path, socket: str) -> None:
    control = tmp_path / "b.ctl"
    project, path = loop_project(tmp_path, socket, control)
    project.up(watchdog=False)
    wait_ready(project, "b")
    clock = Clock()
    Watchdog(path, clock=clock).tick()
    clock.skip(10)
    Watchdog(path, clock=clock).tick()  # nudges; this watchdog "dies" here
    assert len(inbox(control)) == 1
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog", "--config", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: lock_holder(project.log_dir) == proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert lock_holder(project.log_dir) is None  # the kernel released the dead holder's lock
    state = load_state(project.log_dir)
    assert state.agent("b").nudged_phase == "p1" and state.agent("b").idle_since is not None
    clock.skip(1)
    Watchdog(path, clock=clock).tick()
    assert len(inbox(control)) == 1  # the nudge flag survived: no second nudge


def test_invalid_edit_keeps_the_last_good_config(tmp_path: Path, socket: str) -> None:
    project, path = setup(tmp_path, socket, fake_agent_block("a", tmp_path / "a.ctl"))
    project.up(watchdog=False)
    wait_ready(project, "a")
    dog = Watchdog(path)
    dog.tick()
    good = path.read_text()
    path.write_text(good + '\n[[agent]]\nname = "broken"\nkind = "daemon"\n')
    os.kill(agent_pid(project.spec_dir, "t-a"), signal.SIGKILL)
    assert wait_until(lambda: project.status()[0].state == "dead")
    dog.state = replace(dog.state, last_heavy=0)
    dog.tick()
    assert wait_until(lambda: project.status()[0].state == "running")  # still healing on the old config
    invalid = events(project, "config-invalid")
    assert len(invalid) == 1 and 'agent[1].kind: "daemon" is not one of' in invalid[0]["reason"]
    assert "does not validate" in json.dumps(load_state(project.log_dir).config_error) or load_state(project.log_dir).config_error
    path.write_text(good)
    dog.tick()
    assert events(project, "config-valid") and load_state(project.log_dir).config_error == ""


def test_a_second_watchdog_refuses(tmp_path: Path, socket: str) -> None:
    project, path = setup(tmp_path, socket, fake_agent_block("a", tmp_path / "a.ctl"))
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
    project, path = setup(tmp_path, socket, fake_agent_block("a", tmp_path / "a.ctl"))
    outcomes = {o.name: o.action for o in project.up()}
    assert outcomes == {"a": "started", "watchdog": "started"}
    wait_ready(project, "a")
    assert wait_until(lambda: lock_holder(project.log_dir) is not None)
    os.kill(agent_pid(project.spec_dir, "t-a"), signal.SIGKILL)
    assert wait_until(lambda: events(project, "heal") != [], timeout=15)
    assert wait_until(lambda: project.status()[0].state == "running")
    project.down()
    assert wait_until(lambda: lock_holder(project.log_dir) is None)
    assert textwrap.dedent("ok") == "ok"
