"""The wake channel end to end: a running watchdog PROCESS whose `signal_interval` is ten minutes
reacts within seconds to a push (through the post-receive hook in the local bare origin) and to
a CLI request (the requests folder is watched). Real git, real tmux, demo agents. Every wait is
bounded and on the real condition (the state file, the event log, the request file); nothing
sleeps to synchronise. With a ten-minute interval, only a wake can make these happen within the
waits (each at most 60 s, well under the interval: the first tick is at start)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.handoff.hook import install_post_receive, remove_post_receive, wake_file
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state
from tests.support.tmux import WatchdogProcess, screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux

INTERVAL = 600  # seconds: far longer than any wait below


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def body(work: Path) -> str:
    return f"""
[watchdog]
signal_interval = {INTERVAL}
heavy_interval = {INTERVAL}

[[agent]]
name = "builder"
kind = "loop"
watch = "heal"

[[agent]]
name = "reviewer"
kind = "persistent"
watch = "heal"
prompt = "You review claims."

[loop]
kickoff = "kickoff.md"
repo = {json.dumps(str(work))}
phases = [{{ id = "p1", plan = "plan.md", status = "status.md" }}]

[loop.handoff]
claim_pings = "reviewer"
wake = "post-receive"
fetch_timeout = 10
"""


def test_a_push_and_a_request_wake_a_running_watchdog(tmp_path: Path, socket: str) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", "init")
    git(work, "push", "-q", "origin", "HEAD:main")
    (tmp_path / "kickoff.md").write_text("Build phase {phase_id}.")
    (tmp_path / "plan.md").write_text("the plan")
    path = write_config(tmp_path, socket, body(work))
    config = load_config(path)
    project = Project(config)
    log_dir = project.log_dir
    assert install_post_receive(config).action == "installed"  # what `up` does
    assert not [o for o in project.up(watchdog=False) if o.failed]
    reviewer = config.agent("reviewer").session  # type: ignore[union-attr]
    assert reviewer and wait_until(screen_has(project.runtime, reviewer, "demo>"))

    dog = WatchdogProcess(path, log_dir, tmp_path / "watchdog.out")
    try:
        dog.wait_holding_lock()
        first = git(origin, "rev-parse", "main")
        dog.wait_for(lambda: load_state(log_dir).handoff.last_seen == first, "did not take its first tick")

        # A push: the hook writes the wake file, the watchdog ticks at once and pings.
        git(work, "commit", "-q", "--allow-empty", "-m", "claim: T1 the parser")
        git(work, "push", "-q", "origin", "HEAD:main")
        pushed = git(origin, "rev-parse", "main")
        assert pushed in wake_file(log_dir).read_text()  # written before the push returned
        dog.wait_for(lambda: load_state(log_dir).handoff.last_seen == pushed, "was not woken by the push")
        dog.wait_for(lambda: any(e["agent"] == "reviewer" and e["action"] == "ping" for e in read_events(log_dir)),
                     "did not ping the reviewer")
        assert wait_until(screen_has(project.runtime, reviewer, "T1 the parser"), timeout=30)

        # A CLI request (`agents pause reviewer`): the requests folder wakes it too.
        done = CliRunner().invoke(app, normalize_argv(["pause", "reviewer", "--config", str(path)]))
        assert done.exit_code == 0, done.output
        requests = log_dir / "state" / "requests"
        dog.wait_for(lambda: load_state(log_dir).agent("reviewer").paused, "was not woken by the request")
        dog.wait_for(lambda: not list(requests.glob("*.json")), "did not take the request")
        done = CliRunner().invoke(app, normalize_argv(["restart", "builder", "--config", str(path)]))  # a "clear" request
        assert done.exit_code == 0, done.output
        dog.wait_for(lambda: any(r.endswith("-builder-clear.json") for r in load_state(log_dir).requests_done),
                     "was not woken by the restart's request")
    finally:
        dog.stop()
        remove_post_receive(config)
    assert not (origin / "hooks" / "post-receive").exists()
