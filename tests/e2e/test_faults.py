"""Faults end to end: the real Claude Code CLI, run by the orchestrator and its watchdog, against a
scripted model that misbehaves on purpose (DESIGN §9).

Each test copies one folder of `tests/faults/` into a sandbox (its own tmux socket, session
prefix and model port, like `agents rehearse run`), brings it up with the watchdog, waits on the
watchdog's events, and tears everything down, checking that no tmux server or process is left.

- hang:          a turn that never gets its first byte → nudge, then reboot with the kickoff
- retry429:      429 + retry-after twice → Claude retries by itself; the watchdog leaves it alone
- never-done:    a builder idles without the done marker → the nudge makes it write and push it
- killed:        the claude process is SIGKILLed → healed back to its input box
- two-reviewers: a claim pinged to both reviewers in `claim_pings`
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import _leftovers, free_port, sandbox_config
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.screen.detect import CLAUDE, classify
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).resolve().parent / "faults"
FAR = "WAITING-UNTIL: 2099-01-01T00:00:00Z"

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]


@dataclass
class FaultRun:
    """One fault folder running in its sandbox: the project, its folder and what was seen."""

    project: Project
    work: Path
    screens: dict[str, list[str]] = field(default_factory=dict)  # label -> a screen seen on the way

    @property
    def log_dir(self) -> Path:
        return self.project.log_dir

    def events(self, action: str | None = None, agent: str | None = None) -> list[dict[str, Any]]:
        return [e for e in read_events(self.log_dir)
                if (action is None or e["action"] == action) and (agent is None or e.get("agent") == agent)]

    def journal(self) -> list[dict[str, Any]]:
        path = self.log_dir / "model-journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def screen(self, agent: str) -> list[str]:
        try:
            return self.project.runtime.capture(self.project.config.agent(agent).session or "")
        except TmuxError as exc:
            return [f"(no screen: {exc})"]

    def facts(self, agent: str):
        return load_state(self.log_dir).agent(agent).facts

    def diagnose(self) -> str:
        """Everything useful when a wait times out: events, journal, every agent's screen."""
        out = ["-- events"]
        out += [f"{e['ts']:.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']}" for e in read_events(self.log_dir)]
        out.append("-- journal")
        out += [f"{j['ts']:.1f} {j.get('kind')} {j.get('status')} rule={j.get('rule')} step={j.get('step')} "
                f"{(j.get('last_user') or '')[:60]!r}" for j in self.journal()]
        for agent in self.project.config.agents:
            for f in (self.log_dir / "homes" / agent.name / ".claude" / "sessions").glob("*.json"):
                out.append(f"-- session file {f.name}: {f.read_text()}")
            out.append(f"-- screen of {agent.name} (facts: {self.facts(agent.name)})")
            out += self.screen(agent.name)
        return "\n".join(out)

    def wait(self, what: str, check: Callable[[], Any], timeout: float, poll: float = 0.5) -> Any:
        """Poll `check` until it returns something truthy (returned) or fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{self.diagnose()}")
            time.sleep(poll)

    def wait_event(self, action: str, agent: str | None = None, timeout: float = 60.0, after: float = 0.0) -> dict[str, Any]:
        return self.wait(f"event {action} ({agent or 'any agent'})",
                         lambda: next((e for e in self.events(action, agent) if e["ts"] >= after), None), timeout)

    def wait_state(self, agent: str, states: tuple[str, ...], timeout: float = 60.0, after: float = 0.0):
        """The watchdog's facts for `agent` once they show one of `states`, captured after `after`."""
        def check():
            facts = self.facts(agent)
            return facts if facts is not None and facts.state in states and facts.captured_at > after else None
        return self.wait(f"{agent} in state {'/'.join(states)}", check, timeout)


@contextmanager
def fault_run(name: str, claude: str) -> Iterator[FaultRun]:
    """Bring `tests/faults/<name>` up in a sandbox (watchdog included); tear it down after."""
    sandbox = Path(tempfile.mkdtemp(prefix=f"ao-fault-{name}-"))
    work = sandbox / name
    token = secrets.token_hex(3)
    runtime = TmuxRuntime(f"ao-fault-{token}")
    project = None
    try:
        shutil.copytree(FAULTS / name, work)
        if (work / "setup.sh").exists():
            done = subprocess.run(["bash", "setup.sh"], cwd=work, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
        sandbox_config(work / "agents.toml", socket_name=runtime.socket or "", prefix=f"f{token}-",
                       port=free_port(), bins={"claude": claude})
        project = Project(load_config(work / "agents.toml"), runtime)
        outcomes = project.up(watchdog=True)
        failed = [o for o in outcomes if o.failed]
        assert not failed, failed
        run = FaultRun(project, work)
        yield run
        began = min((e["ts"] for e in run.events()), default=0.0)
        print(f"\n-- {name}: events (s after the watchdog started)")
        for e in run.events():
            print(f"{e['ts'] - began:6.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']}")
    finally:
        if project is not None:
            try:
                project.down()
            except TmuxError:
                pass  # kill-server below ends whatever is left
        runtime.kill_server()  # also removes the socket file tmux 3.3a leaves behind
        deadline = time.monotonic() + 15
        while (left := _leftovers(sandbox, runtime)) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(sandbox, ignore_errors=True)
    assert left == [], f"left behind: {left}"


def actions(run: FaultRun, agent: str) -> list[str]:
    return [e["action"] for e in run.events(agent=agent)]


# ---------------------------------------------------------------------------------------------


def test_hang_mid_turn_is_rebooted_without_a_wasted_nudge(claude: str) -> None:
    with fault_run("hang", claude) as run:
        # The kickoff's request arrives and hangs before the first byte: Claude shows its spinner
        # (`✽ Mulling…`, a timer `(16s)` appears after ~15 s) with `esc to interrupt`.
        run.wait("the hanging kickoff request", lambda: any(j.get("rule") == "kickoff-hangs" for j in run.journal()), 60)
        run.wait_state("builder", ("busy",), timeout=30)
        run.screens["hang"] = run.screen("builder")
        last: list[str] = []

        def rebooted():
            screen = run.screen("builder")
            if any("esc to interrupt" in line for line in screen):
                last[:] = screen  # the hung session, still up
            return next(iter(run.events("reboot", "builder")), None)

        # A busy screen unchanged for hung_idle is a hung turn. A nudge could not reach it (Claude
        # would only queue it behind the turn that never ends), so it is rebooted straight away;
        # (Claude's timer would not reset the clock: see test_content_hash_ignores_ticking_timers.)
        reboot = run.wait("the reboot", rebooted, 90, poll=0.3)
        run.screens["before-reboot"] = last
        assert "hung turn" in reboot["reason"], reboot
        assert any("esc to interrupt" in line for line in last), "\n".join(last)
        # The reboot restarts Claude with the kickoff, and this time the model answers it.
        done = run.wait_state("builder", ("waiting_until",), timeout=60, after=reboot["ts"])
        assert done.waiting_until is not None
        assert "Rebooted: the kickoff turn finished." in "\n".join(run.project.logs("builder", 60))
        rules = [j.get("rule") for j in run.journal() if j.get("kind") in ("text", "tool", "error", "unmatched")]
        assert rules == ["kickoff-hangs", "kickoff-answered"], rules
        seen = actions(run, "builder")
        assert "nudge" not in seen and seen.count("reboot") == 1, seen
        assert not {"heal", "delivery-failed"} & set(seen), seen
        assert load_state(run.project.log_dir).agent("builder").nudged_phase is None  # kept for a real idle
        report_screens(run)


def test_429_retry_after_is_left_alone(claude: str) -> None:
    with fault_run("retry429", claude) as run:
        # Claude shows `✻ API error · Retrying in 6s · attempt 1/10` (with `esc to interrupt`)
        # and the watchdog reads it as retrying, not idle.
        retrying = run.wait_state("builder", ("rate_limited_retrying",), timeout=60)
        run.screens["retrying"] = run.screen("builder")
        done = run.wait_state("builder", ("waiting_until",), timeout=60, after=retrying.captured_at)
        errors = [j for j in run.journal() if j.get("kind") == "error"]
        answered = [j for j in run.journal() if j.get("rule") == "kickoff-answered"]
        assert [j["status"] for j in errors] == [429, 429] and len(answered) == 1, run.diagnose()
        # Claude waited out both retry-after windows by itself: far longer than stall_idle (4 s).
        retried_for = answered[0]["ts"] - errors[0]["ts"]
        assert retried_for >= 10, retried_for
        # Quiet for a few more ticks after the turn, then nothing may have touched the agent.
        time.sleep(3)
        screen = "\n".join(run.project.logs("builder", 40))
        assert "Recovered after the rate limit." in screen, screen
        assert done.waiting_until is not None
        seen = actions(run, "builder")
        assert not {"reboot", "heal", "nudge", "restart"} & set(seen), (seen, run.diagnose())
        report_screens(run)


def test_never_done_builder_is_nudged_into_writing_the_marker(claude: str) -> None:
    with fault_run("never-done", claude) as run:
        # The kickoff turn ends with no WAITING-UNTIL line and no marker: a plain idle agent.
        run.wait_state("builder", ("done_idle",), timeout=60)
        nudge = run.wait_event("nudge", "builder", timeout=60)
        assert "idle for" in nudge["reason"], nudge
        # The nudge reached the model as a prompt naming the phase, the status file and the marker.
        prompt = run.wait("the nudge at the model", lambda: next(
            (j["last_user"] for j in run.journal() if j.get("rule") == "nudged-writes-marker"), None), 60)
        assert prompt.startswith("Watchdog: you have been idle in phase p1"), prompt
        shown = "\n".join(run.project.logs("builder", 200))
        assert "status-p1.md" in shown and "## DONE" in shown, shown
        # It wrote the marker and pushed; the watchdog saw it on origin/main and completed.
        complete = run.wait_event("sequence-complete", timeout=60)
        assert "p1 done" in complete["reason"], complete
        assert (run.log_dir / "SEQUENCE-COMPLETE").is_file()
        pushed = subprocess.run(["git", "--git-dir", str(run.work / "origin.git"), "show", "main:status-p1.md"],
                                capture_output=True, text=True, check=True).stdout
        assert "## DONE" in pushed.splitlines(), pushed
        seen = actions(run, "builder")
        assert seen.count("nudge") == 1 and "reboot" not in seen, seen


def test_killed_agent_is_healed(claude: str) -> None:
    with fault_run("killed", claude) as run:
        run.wait_state("worker", ("waiting_until",), timeout=60)
        session = run.project.config.agent("worker").session or ""
        pid = agent_pid(run.project.spec_dir, session)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        heal = run.wait_event("heal", "worker", timeout=30, after=killed_at - 1)
        # Found on the next heavy tick (heavy_interval = 3 s; slack for a loaded machine).
        heavy = run.project.config.watchdog.heavy_interval
        assert heal["ts"] - killed_at <= heavy + 5, (heal, killed_at)
        assert "exited" in heal["reason"], heal
        # Back at its input box: a new claude process, its prompt answered again, nothing typed.
        back = run.wait_state("worker", ("waiting_until",), timeout=60, after=heal["ts"])
        assert back.input == ""
        row = next(r for r in run.project.status() if r.name == "worker")
        assert row.state == "running" and row.pid not in (None, pid), row
        os.kill(row.pid, 0)
        assert [j.get("rule") for j in run.journal() if j.get("kind") == "text"] == ["worker", "worker"]
        assert actions(run, "worker").count("heal") == 1


def test_claim_pings_both_reviewers(claude: str) -> None:
    with fault_run("two-reviewers", claude) as run:
        def both_pinged():
            pings = run.events("ping")
            return pings if {e["agent"] for e in pings} >= {"rev1", "rev2"} else None

        pings = run.wait("a ping to each reviewer", both_pinged, 90)
        assert {e["agent"] for e in pings} == {"rev1", "rev2"}, pings
        assert all("claim(G1): the first gate" in e["reason"] for e in pings), pings
        # Each reviewer took the ping as a prompt and acted on it in its own clone.
        for reviewer in ("rev1", "rev2"):
            seen = run.wait(f"{reviewer} pulled the claim", lambda r=reviewer: (run.work / r / "REVIEWED.txt").is_file()
                            and (run.work / r / "REVIEWED.txt").read_text().strip(), 60)
            assert seen == "claim(G1): the first gate", seen
        prompts = [j["last_user"] for j in run.journal() if j.get("rule") == "reviewer-pinged" and j.get("step") == 0]
        assert len(prompts) == 2 and all(p.startswith("Watchdog: new claim on origin/main:") for p in prompts), prompts
        assert len(run.events("ping", "rev1")) == 1 and len(run.events("ping", "rev2")) == 1
        assert not run.events("ping", "builder")
        gate = run.events("gate")
        assert [e.get("gate") for e in gate] == ["G1"], gate


def report_screens(run: FaultRun) -> None:
    """The screens seen on the way, shown with `pytest -s` (for the record of what Claude draws)."""
    for label, screen in run.screens.items():
        print(f"\n== {label}: " + str(classify(screen, CLAUDE, current_command="claude", process_names={"claude"})))
        print("\n".join(line.rstrip() for line in screen))
