"""The watchdog reads the handoff repo through its own bare mirror (handoff/mirror.py), never in
an agent's working clone (issue 12, finding 10): a watchdog tick with real git runs none of the
clone's hooks, leaves the clone's FETCH_HEAD and refs alone, and still sees what was pushed."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.events import read_events
from tests.support.fake_runtime import Clock, FakeRuntime


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


BODY = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]

[loop.handoff]
claim_pings = "reviewer"

[[agent]]
name = "reviewer"
prompt = "You review."
"""


def test_the_watchdog_never_fetches_in_the_builders_clone(tmp_path: Path) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", "init")
    git(work, "push", "-q", "origin", "HEAD:main")
    ran = tmp_path / "hook-ran"
    hook = work / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\necho \"$@\" >> {ran}\n")
    hook.chmod(0o755)
    pusher = tmp_path / "pusher"
    git(tmp_path, "clone", "-q", str(origin), str(pusher))
    git(pusher, "commit", "-q", "--allow-empty", "-m", "claim(G1): pushed by someone else")
    git(pusher, "push", "-q", "origin", "HEAD:main")
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}")
    (tmp_path / "plan.md").write_text("plan")
    (tmp_path / "agents.toml").write_text(textwrap.dedent(BODY))
    ran.unlink(missing_ok=True)  # the clone's own push above ran it: only the watchdog's git counts
    head_before = git(work, "rev-parse", "refs/remotes/origin/main")
    dog = Watchdog(tmp_path / "agents.toml", runtime=FakeRuntime(Clock()), sleep=lambda _s: None)
    result = dog.tick()
    assert result.observation.git is not None and result.observation.git.ok, result.observation.git
    assert result.observation.git.head == git(pusher, "rev-parse", "HEAD")  # it saw the push
    assert not ran.exists(), ran.read_text()  # no hook of the clone ran inside the watchdog
    assert not (work / ".git" / "FETCH_HEAD").exists()
    assert git(work, "rev-parse", "refs/remotes/origin/main") == head_before  # the clone's refs untouched
    assert not [e for e in read_events(dog.log_dir) if e["action"] == "fetch-failed"]
