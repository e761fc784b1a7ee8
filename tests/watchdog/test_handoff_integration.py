"""The phase machine and the git handoff end to end: real git, real tmux, the fake agent —
what only the real adapters can show: pushes read through `GitRepo` (fetch, commits_between with
a real force-push, blob_ids, show of the status file), pings pasted through `TmuxRuntime` into a
real agent process, agents restarted by a phase advance, and a SIGKILLed watchdog process. The
DECISIONS (pings, edge triggering, advance, completion, on_complete exactly once, appended phases,
force-push rebaselining, fetch failures) are whole ticks over fakes in
tests/watchdog/test_ticks_handoff.py.

Each test builds a bare `origin` and two clones (builder, adversary) in tmp_path, points
`[loop].repo` at the builder clone and starts the team (`builder`/`adversary` loop agents, a
persistent `second` reviewer, a `reporter` task for `on_complete`) on a private tmux socket. The
TEST plays the agents' part in git — commits and pushes from the clones — and drives
`Watchdog.tick()` in-process; what the agents were told is read back from the fake agent's
`<control>.inbox.jsonl`. Every agent runs with `watch = "heal"` (no stall policy), so real time
passing between ticks never triggers a nudge or a reboot.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state
from tests.support.fake_agent import FAKE_BACKEND, fake_agent_block, inbox, mode_log
from tests.support.tmux import WatchdogProcess, screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux

STATUS = ".agents/status-{}.md"
INBOX = ".agents/inbox-builder.md"
LOOP_AGENTS = ("builder", "adversary")
UP_AGENTS = ("builder", "adversary", "second")

WATCHDOG = """
[watchdog]
signal_interval = 1
heavy_interval = 1
start_secs = 1
"""

REAL_DONE = "All gates passed.\n\n## DONE\n"


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` (an argument list, never a shell string); return stdout."""
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Identity and default branch in the test's own HOME; the machine's system config is ignored."""
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@dataclass
class Team:
    """The repos, the project and its agents' control files for one test."""

    root: Path
    socket: str
    origin: Path
    builder_clone: Path
    adversary_clone: Path
    path: Path = field(init=False)
    project: Project = field(init=False)
    controls: dict[str, Path] = field(default_factory=dict)

    # -- config ---------------------------------------------------------------------------
    def write_config(self, phases: tuple[str, ...] = ("p1", "p2"), claim_pings: tuple[str, ...] = ("adversary", "second")) -> None:
        (self.root / "kickoff.md").write_text("Phase {phase_id} as {role}: plan {plan}, status {status}.\n")
        for pid in phases:
            (self.root / f"plan-{pid}.md").write_text(f"the plan of {pid}\n")
        rows = ",\n".join(f'  {{ id = "{p}", plan = "plan-{p}.md", status = "{STATUS.format(p)}" }}' for p in phases)
        loop = f"""
[loop]
kickoff = "kickoff.md"
repo = {json.dumps(str(self.builder_clone))}
phases = [
{rows},
]
on_complete = {{ run = "reporter" }}

[loop.handoff]
claim_pings = {json.dumps(list(claim_pings))}
review_pings = "builder"
inboxes = {{ "{INBOX}" = "builder" }}
fetch_timeout = 10
"""
        self.controls = {name: self.root / f"{name}.ctl" for name in (*UP_AGENTS, "reporter")}
        agents = (fake_agent_block("builder", self.controls["builder"], kind="loop", role="builder", watch="heal")
                  + fake_agent_block("adversary", self.controls["adversary"], kind="loop", role="adversary", watch="heal")
                  + fake_agent_block("second", self.controls["second"], prompt="I review too.", watch="heal")
                  + fake_agent_block("reporter", self.controls["reporter"], prompt="Write the final report.", kind="task"))
        self.path = write_config(self.root, self.socket, WATCHDOG + FAKE_BACKEND + loop + agents)
        self.project = Project(load_config(self.path))

    # -- git ------------------------------------------------------------------------------
    def commit(self, clone: Path, subject: str, files: dict[str, str] | None = None, *, push: bool = True) -> str:
        """Write `files`, commit everything as `subject`, push (pulling first); return the sha."""
        if push:
            git(clone, "pull", "-q", "--rebase", "origin", "main")
        for rel, text in (files or {}).items():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            (clone / rel).write_text(text)
        git(clone, "add", "-A")
        git(clone, "commit", "-q", "--allow-empty", "-m", subject)
        if push:
            git(clone, "push", "-q", "origin", "HEAD:main")
        return git(clone, "rev-parse", "HEAD")

    # -- observation ----------------------------------------------------------------------
    def events(self, action: str | None = None) -> list[dict]:
        return [e for e in read_events(self.project.log_dir) if action is None or e["action"] == action]

    def received(self, name: str) -> list[str]:
        return [m["text"] for m in inbox(self.controls[name])]

    def starts(self, name: str) -> list[dict]:
        """Every start of the agent's process (the fake agent logs one per start)."""
        return [r for r in mode_log(self.controls[name]) if r["source"] == "startup"]

    def session(self, name: str) -> str:
        return self.project.config.agent(name).session  # type: ignore[union-attr]

    def pid(self, name: str) -> int | None:
        return agent_pid(self.project.spec_dir, self.session(name))

    def pids(self, *names: str) -> dict[str, int | None]:
        return {n: self.pid(n) for n in names}

    def wait_ready(self, *names: str) -> None:
        for name in names:
            assert wait_until(screen_has(self.project.runtime, self.session(name), "fake>")), f"{name} did not start"

    def wait_restarted(self, before: dict[str, int | None]) -> None:
        """Every agent in `before` runs a new process, showing its prompt line."""
        for name, old in before.items():
            assert wait_until(lambda n=name, o=old: self.pid(n) not in (None, o)), f"{name} was not restarted"
        self.wait_ready(*before)

    def wait_received(self, name: str, count: int, timeout: float = 30) -> list[str]:
        wait_until(lambda: len(self.received(name)) >= count, timeout=timeout)
        return self.received(name)

    def up(self) -> Watchdog:
        """Start the team (tasks wait), wait for every prompt, and baseline a first watchdog tick."""
        self.project.up(watchdog=False)
        self.wait_ready(*UP_AGENTS)
        dog = Watchdog(self.path)
        dog.tick()
        assert load_state(self.project.log_dir).handoff.last_seen == git(self.origin, "rev-parse", "main")
        return dog


@pytest.fixture
def team(tmp_path: Path, socket: str) -> Team:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    t = Team(tmp_path, socket, origin, tmp_path / "builder", tmp_path / "adversary")
    git(tmp_path, "clone", "-q", str(origin), str(t.builder_clone))
    files = {STATUS.format("p1"): "In progress.\n", STATUS.format("p2"): "In progress.\n", INBOX: ""}
    t.commit(t.builder_clone, "init", files, push=False)
    git(t.builder_clone, "push", "-q", "origin", "HEAD:main")
    git(tmp_path, "clone", "-q", str(origin), str(t.adversary_clone))
    t.write_config()
    return t


def phase_show(path: Path) -> dict:
    result = CliRunner().invoke(app, normalize_argv(["phase", "show", "--json", "--config", str(path)]))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_pushed_claims_reviews_and_inbox_notes_reach_the_agents_but_local_edits_do_not(team: Team) -> None:
    dog = team.up()
    # Edits the builder's own clone — the very repo the watchdog fetches — but never pushes them.
    team.commit(team.builder_clone, "claim(G0): note to self", {INBOX: "local only\n"}, push=False)
    (team.builder_clone / INBOX).write_text("not even committed\n")
    dog.tick()
    assert team.received("builder") == team.received("adversary") == team.received("second") == []
    assert team.events("ping") == [] and team.events("gate") == []
    git(team.builder_clone, "checkout", "-q", "--", INBOX)
    git(team.builder_clone, "reset", "-q", "--hard", "origin/main")

    sha = team.commit(team.builder_clone, "claim(G1): parser handles empty input")
    dog.tick()
    for name in ("adversary", "second"):
        [text] = team.wait_received(name, 1)
        assert "claim(G1): parser handles empty input" in text and sha[:8] in text
    assert team.received("builder") == []
    assert [e["gate"] for e in team.events("gate")] == ["G1"]

    team.commit(team.adversary_clone, "review(G1): FAIL — empty input still crashes", {INBOX: "Please rerun G1 with -x.\n"})
    dog.tick()  # two messages for the builder: one now, the next once the turn it starts is over
    [review] = team.wait_received("builder", 1)
    assert wait_until(lambda: (dog.tick(), len(team.received("builder")) >= 2)[1], timeout=30)
    review, note = team.received("builder")
    assert "review(G1): FAIL — empty input still crashes" in review and "new review" in review
    assert INBOX in note and "inbox" in note
    Watchdog(team.path).tick()  # a watchdog restarted from disk pings nobody again
    assert [len(team.received(n)) for n in ("builder", "adversary", "second")] == [2, 1, 1]
    assert len(team.events("ping")) == 4


def test_claim_on_top_of_a_force_push_still_pings(team: Team) -> None:
    team.write_config(claim_pings=("adversary",))
    dog = team.up()
    team.commit(team.builder_clone, "claim(G1): parser")
    dog.tick()
    assert len(team.wait_received("adversary", 1)) == 1
    # The builder fixes a typo inside its pushed G1 commit (same subject), claims G2 on top and
    # force-pushes: G1 is old news, G2 is new.
    (team.builder_clone / "parser.txt").write_text("fixed typo\n")
    git(team.builder_clone, "add", "-A")
    git(team.builder_clone, "commit", "-q", "--amend", "--no-edit")
    team.commit(team.builder_clone, "claim(G2): lexer", push=False)
    git(team.builder_clone, "push", "-q", "--force", "origin", "HEAD:main")
    dog.tick()
    [rewritten] = team.events("history-rewritten")
    assert git(team.origin, "rev-parse", "main")[:8] in rewritten["reason"]
    texts = team.wait_received("adversary", 2)
    assert len(texts) == 2 and "claim(G2): lexer" in texts[1] and "G1" not in texts[1]
    assert team.received("second") == []
    assert [e["gate"] for e in team.events("gate")] == ["G1", "G2"]


def test_sigkilled_watchdog_process_after_completion_does_not_rerun_on_complete(team: Team) -> None:
    dog = team.up()
    before = team.pids(*UP_AGENTS)
    team.commit(team.builder_clone, "p1 done", {STATUS.format("p1"): REAL_DONE})
    dog.tick()  # the status file as pushed, read through GitRepo.show: advance
    team.wait_restarted({n: before[n] for n in LOOP_AGENTS})
    for name in LOOP_AGENTS:
        assert wait_until(screen_has(team.project.runtime, team.session(name), f"Phase p2 as {name}"))
    assert team.pid("second") == before["second"]
    team.commit(team.builder_clone, "p2 done", {STATUS.format("p2"): REAL_DONE})
    del dog
    proc = WatchdogProcess(team.path, team.project.log_dir, team.root / "watchdog.out")
    try:
        proc.wait_holding_lock()
        proc.wait_for(lambda: team.events("on-complete") != [], "did not run on_complete")
        proc.sigkill()
    finally:
        proc.stop()
    assert (team.project.log_dir / "SEQUENCE-COMPLETE").is_file()
    assert wait_until(screen_has(team.project.runtime, team.session("reporter"), "kickoff: Write the final report."))
    reporter = team.pid("reporter")
    dog = Watchdog(team.path)
    for _ in range(3):
        dog.tick()
    assert len(team.events("on-complete")) == 1 and len(team.events("sequence-complete")) == 1
    assert len(team.starts("reporter")) == 1 and team.pid("reporter") == reporter
    team.commit(team.builder_clone, "claim(G9): after the end")
    dog.tick()
    assert team.events("ping") == []
    shown = phase_show(team.path)  # `done` read from the clone as the watchdog fetched it
    assert (shown["phase_id"], shown["complete"], shown["on_complete"], shown["done"]) == ("p2", True, "started", True)
