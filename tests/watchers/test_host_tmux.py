"""End to end: a watcher hosted as an agent in real tmux flags a real stale claim in a real git
repo and pings its `notify` agent; the watchdog heals it like any agent; and the offline
custom-watcher example flags its stale ticket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchers.ledger import DecisionLedger
from tests.support.tmux import (
    kill_server,
    private_socket,
    screen_has,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.tmux
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def socket() -> Iterator[str]:
    name = private_socket()
    yield name
    kill_server(name)


def git(cwd: Path, *args: str, ts: float | None = None) -> None:
    env = dict(os.environ)
    if ts is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"@{int(ts)} +0000"
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, env=env)


TEAM = """
[watchdog]
signal_interval = 1
heavy_interval = 1
start_secs = 1

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]

[[agent]]
name = "lead"

[[agent]]
name = "claims"
backend = "watcher"
watcher = "claims"
window = 30
interval = 0.5
enabled = true
notify = "lead"
"""


def test_a_hosted_watcher_flags_a_stale_claim_pings_and_is_healed(tmp_path: Path, socket: str, own_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "work")
    work = tmp_path / "work"
    git(work, "commit", "--allow-empty", "-qm", "init", ts=time.time() - 200)
    git(work, "commit", "--allow-empty", "-qm", "claim(G1): parser", ts=time.time() - 100)  # stale: 100 s > window
    git(work, "push", "-q", "origin", "HEAD:main")
    (tmp_path / "kickoff.md").write_text("phase {phase_id}\n")
    (tmp_path / "plan.md").write_text("plan\n")
    path = write_config(tmp_path, socket, TEAM)
    project = Project(load_config(path))

    outcomes = {o.name: o for o in project.up(watchdog=False)}
    assert outcomes["claims"].action == "started" and outcomes["claims"].session == "t-claims"
    ledger = DecisionLedger(project.log_dir)
    assert wait_until(lambda: len(ledger.flags()) == 1, timeout=15), project.logs("claims", 40)
    (flag,) = ledger.flags()
    assert (flag.decision.watcher, flag.decision.entity_id, flag.decision.context) == ("claims", "claim:g1", "claim-unreviewed")
    # the ping went through verified delivery into the notify agent's input: the demo agent echoes it
    assert wait_until(screen_has(project.runtime, "t-lead", "echo: Watcher claims: gate G1 claimed"), timeout=10)
    assert wait_until(screen_has(project.runtime, "t-lead", f"agents flags resolve {flag.decision.id[:8]}"), timeout=30)
    def events():
        return [(e["agent"], e["action"]) for e in read_events(project.log_dir) if e["action"] in ("flag", "flag-ping", "heal")]
    assert wait_until(lambda: events() == [("claims", "flag"), ("lead", "flag-ping")], timeout=10)
    row = {r.name: r for r in project.status()}["claims"]
    assert row.state == "running" and row.session == "t-claims" and row.backend == "watcher"

    # the watchdog heals a killed watcher like any agent; the new process does not re-flag the episode
    os.kill(agent_pid(project.spec_dir, "t-claims"), signal.SIGKILL)  # type: ignore[arg-type]
    assert wait_until(lambda: {r.name: r for r in project.status()}["claims"].state == "dead", timeout=10)
    Watchdog(path).tick()
    assert wait_until(lambda: {r.name: r for r in project.status()}["claims"].state == "running", timeout=10)
    git(work, "commit", "--allow-empty", "-qm", "review(G1): PASS")
    git(work, "push", "-q", "origin", "HEAD:main")
    assert wait_until(lambda: ledger.flags(open_only=True) == [], timeout=15), project.logs("claims", 40)
    assert wait_until(screen_has(project.runtime, "t-claims", f"resolved {flag.decision.id[:8]}"), timeout=30)
    records = [json.loads(x)["record"] for x in (project.log_dir / "decisions.jsonl").read_text().splitlines()]
    assert records == ["decision", "resolution"]
    assert events() == [("claims", "flag"), ("lead", "flag-ping"), ("claims", "heal")]
    project.down()


def test_the_custom_watcher_example_runs_offline(tmp_path: Path, socket: str) -> None:
    from agent_orchestrator.rehearsal.runner import sandbox_config

    work = tmp_path / "custom-watcher"
    shutil.copytree(ROOT / "examples" / "custom-watcher", work, ignore=shutil.ignore_patterns("run", "*.log"))
    sandbox_config(work / "agents.toml", socket_name=socket, prefix="cw-t-", port=0, bins={})
    project = Project(load_config(work / "agents.toml"))
    assert all(not o.failed for o in project.up(watchdog=False))
    ledger = DecisionLedger(project.log_dir)
    assert wait_until(lambda: len(ledger.flags()) == 1, timeout=15), project.logs("tickets", 40)
    (flag,) = ledger.flags()
    assert (flag.decision.watcher, flag.decision.entity_id, flag.decision.choice) == ("tickets", "T-1", "flag-entity")
    assert wait_until(screen_has(project.runtime, "cw-t-lead", "echo: Watcher tickets: T-1 (open): wc crashes on empty input"), timeout=10)
    (work / "queue" / "T-1.log").write_text("looking into it\n")  # progress: the episode ends
    assert wait_until(lambda: ledger.flags(open_only=True) == [], timeout=10)
    project.down()
