"""The phase machine and the git handoff end to end: real git, real tmux, the fake agent.

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
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.lock import lock_holder
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state
from tests.support.fake_agent import FAKE_BACKEND, fake_agent_block, inbox, mode_log
from tests.support.tmux import screen_has, wait_until, write_config

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

FENCED_DONE = "In progress.\n\nWrite this when every gate passes:\n\n```markdown\n## DONE\n```\n"
REAL_DONE = "All gates passed.\n\n## DONE\n"


class Clock:
    """Real time plus an offset the test moves (stalls are off, so only the phase machine cares)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


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
    def write_config(self, phases: tuple[str, ...] = ("p1", "p2")) -> None:
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
claim_pings = ["adversary", "second"]
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

    def wait_received(self, name: str, count: int, timeout: float = 5) -> list[str]:
        wait_until(lambda: len(self.received(name)) >= count, timeout=timeout)
        return self.received(name)

    def up(self, clock: Clock | None = None) -> Watchdog:
        """Start the team (tasks wait), wait for every prompt, and baseline a first watchdog tick."""
        self.project.up(watchdog=False)
        self.wait_ready(*UP_AGENTS)
        dog = Watchdog(self.path, clock=clock or time.time)
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


# -- 1. claims and reviews --------------------------------------------------------------------

def test_claim_pings_both_reviewers_and_review_pings_the_builder_edge_triggered(team: Team) -> None:
    dog = team.up()
    assert team.received("adversary") == team.received("second") == team.received("builder") == []

    sha = team.commit(team.builder_clone, "claim(G1): parser handles empty input")
    dog.tick()
    for name in ("adversary", "second"):
        [text] = team.wait_received(name, 1)
        assert "claim(G1): parser handles empty input" in text and sha[:8] in text
    assert team.received("builder") == []
    assert [e["agent"] for e in team.events("ping")] == ["adversary", "second"]
    assert [e["gate"] for e in team.events("gate")] == ["G1"]

    team.commit(team.adversary_clone, "review(G1): FAIL — empty input still crashes")
    dog.tick()
    [text] = team.wait_received("builder", 1)
    assert "review(G1): FAIL — empty input still crashes" in text and "new review" in text
    assert len(team.received("adversary")) == len(team.received("second")) == 1

    dog.tick()  # no new commits: nobody is pinged again
    Watchdog(team.path).tick()  # nor by a watchdog restarted from disk
    assert [len(team.received(n)) for n in ("builder", "adversary", "second")] == [1, 1, 1]
    assert len(team.events("ping")) == 3

    team.commit(team.builder_clone, "feat: claim(G2)")
    dog.tick()
    for name in ("adversary", "second"):
        texts = team.wait_received(name, 2)
        assert len(texts) == 2 and "feat: claim(G2)" in texts[1] and "G1" not in texts[1]
    assert len(team.received("builder")) == 1
    assert [e["gate"] for e in team.events("gate")] == ["G1", "G2"]


def test_claim_pushed_before_the_first_tick_is_pinged_but_older_history_is_not(team: Team) -> None:
    past = f"@{int(time.time()) - 3600} +0000"  # a claim from an earlier run: history, not news
    env = {**os.environ, "GIT_COMMITTER_DATE": past, "GIT_AUTHOR_DATE": past}
    subprocess.run(["git", "-C", str(team.builder_clone), "commit", "-q", "--allow-empty", "-m", "claim(G0): earlier run"],
                   check=True, env=env)
    git(team.builder_clone, "push", "-q", "origin", "HEAD:main")
    team.project.up(watchdog=False)
    team.wait_ready(*UP_AGENTS)
    team.commit(team.builder_clone, "claim(G1): beat the watchdog's first fetch")
    Watchdog(team.path).tick()  # the first tick ever
    for name in ("adversary", "second"):
        [text] = team.wait_received(name, 1)
        assert "claim(G1): beat the watchdog's first fetch" in text and "G0" not in text
    assert [e["gate"] for e in team.events("gate")] == ["G1"]


def test_several_claims_in_one_push_are_one_message_per_reviewer(team: Team) -> None:
    dog = team.up()
    team.commit(team.builder_clone, "claim(G1): first", push=False)
    team.commit(team.builder_clone, "chore: unrelated", push=False)
    team.commit(team.builder_clone, "claim(G2): second")
    dog.tick()
    for name in ("adversary", "second"):
        [text] = team.wait_received(name, 1)
        assert "claim(G1): first" in text and "claim(G2): second" in text and "unrelated" not in text
    assert team.received("builder") == []


# -- 2. inboxes -------------------------------------------------------------------------------

def test_pushed_inbox_change_pings_its_agent_and_a_local_one_does_not(team: Team) -> None:
    dog = team.up()
    # Edits the builder's own clone — the very repo the watchdog fetches — but never pushes them.
    team.commit(team.builder_clone, "note to self", {INBOX: "local only\n"}, push=False)
    (team.builder_clone / INBOX).write_text("not even committed\n")
    dog.tick()
    assert team.received("builder") == [] and team.events("ping") == []
    git(team.builder_clone, "checkout", "-q", "--", INBOX)
    git(team.builder_clone, "reset", "-q", "--hard", "origin/main")

    team.commit(team.adversary_clone, "chore: leave the builder a note", {INBOX: "Please rerun G1 with -x.\n"})
    dog.tick()
    [text] = team.wait_received("builder", 1)
    assert INBOX in text and "inbox" in text
    assert team.received("adversary") == team.received("second") == []

    team.commit(team.adversary_clone, "chore: unrelated", {"README.md": "hello\n"})
    dog.tick()  # the inbox blob did not change: no second ping
    assert len(team.received("builder")) == 1


# -- 3. phase advance -------------------------------------------------------------------------

def test_done_marker_in_a_fence_does_not_advance_a_real_one_does(team: Team) -> None:
    dog = team.up()
    before = team.pids(*UP_AGENTS)
    team.commit(team.builder_clone, "docs: status template", {STATUS.format("p1"): FENCED_DONE})
    dog.tick()
    assert team.events("phase-advance") == [] and load_state(team.project.log_dir).phase.index == 0
    assert phase_show(team.path)["done"] is False
    assert team.pids(*UP_AGENTS) == before

    team.commit(team.builder_clone, "p1 done", {STATUS.format("p1"): REAL_DONE})
    dog.tick()
    [advance] = team.events("phase-advance")
    assert advance["phase"] == "p1" and advance["index"] == 1
    assert sorted(e["agent"] for e in team.events("advance")) == ["adversary", "builder"]
    team.wait_restarted({n: before[n] for n in LOOP_AGENTS})
    assert team.pid("second") == before["second"]  # a persistent agent is not part of the phase machine
    for name in LOOP_AGENTS:
        assert wait_until(screen_has(team.project.runtime, team.session(name), f"Phase p2 as {name}"))
    shown = phase_show(team.path)
    assert (shown["phase_id"], shown["index"], shown["total"], shown["complete"]) == ("p2", 1, 2, False)
    assert shown["status_file"] == STATUS.format("p2") and shown["done"] is False

    dog.tick()  # the p1 marker stays on origin/main: it does not advance p2
    assert len(team.events("phase-advance")) == 1 and load_state(team.project.log_dir).phase.index == 1


# -- 4. completion and on_complete exactly once -----------------------------------------------

def complete_sequence(team: Team, dog: Watchdog) -> None:
    """Walk p1 → p2 → SEQUENCE-COMPLETE with pushed done markers."""
    before = team.pids(*LOOP_AGENTS)
    team.commit(team.builder_clone, "p1 done", {STATUS.format("p1"): REAL_DONE})
    dog.tick()
    team.wait_restarted(before)
    team.commit(team.builder_clone, "p2 done", {STATUS.format("p2"): REAL_DONE})


def test_completion_writes_the_marker_once_and_runs_on_complete_once_across_a_restart(team: Team) -> None:
    dog = team.up()
    complete_sequence(team, dog)
    loop_pids = team.pids(*LOOP_AGENTS)
    dog.tick()  # the completion tick
    marker = team.project.log_dir / "SEQUENCE-COMPLETE"
    assert marker.is_file()
    written = marker.read_text()
    assert [e["phase"] for e in team.events("sequence-complete")] == ["p2"]
    state = load_state(team.project.log_dir)
    assert state.phase.complete and state.phase.on_complete == "pending"

    del dog  # the watchdog dies between the completion tick and the next
    dog = Watchdog(team.path)
    dog.tick()
    assert wait_until(screen_has(team.project.runtime, team.session("reporter"), "kickoff: Write the final report."))
    reporter = team.pid("reporter")
    for _ in range(3):
        dog.tick()
    Watchdog(team.path).tick()
    assert [e["agent"] for e in team.events("on-complete")] == ["reporter"]
    assert len(team.starts("reporter")) == 1 and team.pid("reporter") == reporter
    assert len(team.events("sequence-complete")) == 1 and marker.read_text() == written
    assert load_state(team.project.log_dir).phase.on_complete == "started"
    assert team.pids(*LOOP_AGENTS) == loop_pids  # no further advance restarts

    # Handoff has stopped: a claim after completion pings nobody.
    pings = len(team.events("ping"))
    team.commit(team.builder_clone, "claim(G9): after the end")
    dog.tick()
    dog.tick()
    assert len(team.events("ping")) == pings
    assert team.received("adversary") == team.received("second") == []
    shown = phase_show(team.path)
    assert shown["complete"] is True and shown["on_complete"] == "started"


def test_sigkilled_watchdog_process_after_completion_does_not_rerun_on_complete(team: Team) -> None:
    dog = team.up()
    complete_sequence(team, dog)
    del dog
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog", "--config", str(team.path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: lock_holder(team.project.log_dir) == proc.pid)
        assert wait_until(lambda: team.events("on-complete") != [], timeout=15), proc.stderr
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
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


class Killed(BaseException):
    """Stands in for SIGKILL inside a tick (BaseException: nothing in the tick may catch it)."""


def test_watchdog_killed_while_starting_on_complete_still_runs_it_once(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    dog = team.up()
    complete_sequence(team, dog)
    dog.tick()  # the completion tick: on_complete is due
    real_start = Project.start

    def dies_starting_the_reporter(self: Project, unit, *args, **kwargs):
        if unit.name == "reporter":
            raise Killed()
        return real_start(self, unit, *args, **kwargs)

    monkeypatch.setattr(Project, "start", dies_starting_the_reporter)
    with pytest.raises(Killed):
        dog.tick()
    monkeypatch.setattr(Project, "start", real_start)
    del dog
    dog = Watchdog(team.path)  # a new watchdog from what the dead one left on disk
    dog.tick()
    assert wait_until(lambda: len(team.starts("reporter")) == 1)
    dog.tick()
    Watchdog(team.path).tick()  # and once more after another restart: still only the one start
    assert not wait_until(lambda: len(team.starts("reporter")) > 1, timeout=1)
    assert len(team.events("on-complete")) == 1


# -- 5. phases appended after completion ------------------------------------------------------

def complete_and_append(team: Team, dog: Watchdog) -> None:
    """Complete p1, p2 (on_complete runs), then append p3 and resume at it."""
    complete_sequence(team, dog)
    dog.tick()
    dog.tick()  # on_complete
    assert wait_until(lambda: len(team.starts("reporter")) == 1)
    before = team.pids(*LOOP_AGENTS)
    team.write_config(("p1", "p2", "p3"))
    dog.tick()
    [resumed] = team.events("phase-resumed")
    assert resumed["phase"] == "p3"
    assert not (team.project.log_dir / "SEQUENCE-COMPLETE").exists()  # no longer true: removed
    team.wait_restarted(before)


def test_appended_phase_resumes_the_sequence_and_on_complete_runs_again_once(team: Team) -> None:
    clock = Clock()
    dog = team.up(clock)
    complete_and_append(team, dog)
    for name in LOOP_AGENTS:
        assert wait_until(screen_has(team.project.runtime, team.session(name), f"Phase p3 as {name}"))
    state = load_state(team.project.log_dir)
    assert (state.phase.index, state.phase.complete) == (2, False)
    shown = phase_show(team.path)
    assert (shown["phase_id"], shown["index"], shown["total"], shown["complete"]) == ("p3", 2, 3, False)

    dog.tick()  # p3's status file does not exist yet: not done
    assert len(team.events("sequence-complete")) == 1
    team.commit(team.builder_clone, "p3 done", {STATUS.format("p3"): REAL_DONE})
    clock.offset += 10  # p3 took a while (the next test covers one that does not)
    dog.tick()
    assert [e["phase"] for e in team.events("sequence-complete")] == ["p2", "p3"]
    for _ in range(3):
        dog.tick()
    assert [e["reason"] for e in team.events("on-complete")] == ["sequence complete: on_complete"] * 2
    assert wait_until(lambda: len(team.starts("reporter")) == 2)
    Watchdog(team.path, clock=clock).tick()
    assert len(team.events("on-complete")) == 2 and len(team.events("phase-resumed")) == 1
    assert len(team.starts("reporter")) == 2


def test_appended_phase_completed_right_after_on_complete_still_runs_it_again(team: Team) -> None:
    clock = Clock()
    dog = team.up(clock)
    complete_and_append(team, dog)
    team.commit(team.builder_clone, "p3 done", {STATUS.format("p3"): REAL_DONE})
    created = team.project.runtime.observe()[team.session("reporter")].created
    clock.offset = created + 0.5 - time.time()  # p3 is done within a second of the reporter's start
    dog.tick()
    assert len(team.events("sequence-complete")) == 2
    clock.offset = 0.0
    dog.tick()
    dog.tick()
    assert [e["reason"] for e in team.events("on-complete")] == ["sequence complete: on_complete"] * 2
    assert wait_until(lambda: len(team.starts("reporter")) == 2, timeout=3)


# -- 6. force-push --------------------------------------------------------------------------

def test_force_push_rebaselines_without_repinging_old_claims(team: Team) -> None:
    dog = team.up()
    g1 = team.commit(team.builder_clone, "claim(G1): first")
    dog.tick()
    team.commit(team.builder_clone, "claim(G2): second")
    dog.tick()
    assert len(team.wait_received("adversary", 2)) == 2

    git(team.builder_clone, "reset", "-q", "--hard", g1)  # rewrite origin/main: G1 + a new commit
    team.commit(team.builder_clone, "wip: rework G2", push=False)
    git(team.builder_clone, "push", "-q", "--force", "origin", "HEAD:main")
    dog.tick()
    [rewritten] = team.events("history-rewritten")
    assert git(team.origin, "rev-parse", "main")[:8] in rewritten["reason"]
    dog.tick()
    assert len(team.received("adversary")) == len(team.received("second")) == 2
    assert len(team.events("ping")) == 4

    team.commit(team.builder_clone, "claim(G3): third")
    dog.tick()
    for name in ("adversary", "second"):
        texts = team.wait_received(name, 3)
        assert len(texts) == 3 and "claim(G3): third" in texts[2]
        assert "G1" not in texts[2] and "G2" not in texts[2]
    assert len(team.events("history-rewritten")) == 1


def test_claim_on_top_of_a_force_push_still_pings(team: Team) -> None:
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
    assert len(team.events("history-rewritten")) == 1
    for name in ("adversary", "second"):
        texts = team.wait_received(name, 2, timeout=2)
        assert len(texts) == 2 and "claim(G2): lexer" in texts[1] and "G1" not in texts[1]
    assert [e["gate"] for e in team.events("gate")] == ["G1", "G2"]


# -- 7. fetch failure -----------------------------------------------------------------------

def test_fetch_failure_is_reported_once_and_recovers(team: Team) -> None:
    dog = team.up()
    moved = team.origin.with_name("moved.git")
    team.origin.rename(moved)
    for _ in range(3):
        dog.tick()  # never raises; the watchdog keeps ticking
    [failed] = team.events("fetch-failed")
    assert "git fetch" in failed["reason"]
    assert team.events("fetch-ok") == []
    # Work goes on meanwhile: the adversary's review lands on the (unreachable) origin.
    git(team.adversary_clone, "remote", "set-url", "origin", str(moved))
    team.commit(team.adversary_clone, "review(G1): PASS")
    git(team.adversary_clone, "remote", "set-url", "origin", str(team.origin))
    dog.tick()
    assert team.received("builder") == []

    moved.rename(team.origin)
    dog.tick()
    assert len(team.events("fetch-ok")) == 1 and len(team.events("fetch-failed")) == 1
    [text] = team.wait_received("builder", 1)  # what was pushed during the outage is not lost
    assert "review(G1): PASS" in text
    dog.tick()
    assert len(team.events("fetch-ok")) == 1 and len(team.received("builder")) == 1
