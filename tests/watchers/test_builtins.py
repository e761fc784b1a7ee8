"""The built-in watchers' drains against a real git repo (claims, phases, inboxes) and the
watchdog's state and events (held): what is flagged, what is not, and the activity fold both ways;
each writes only its own declaration."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.watchdog.events import EventLog
from agent_orchestrator.watchers.builtins import claims, held, inboxes, phases
from agent_orchestrator.watchers.decisions import WatcherContext
from agent_orchestrator.watchers.ledger import DecisionLedger
from agent_orchestrator.watchers.loop import flag_tick
from agent_orchestrator.watchers.sources import AuthoredCommit

T0 = 1_700_000_000


def git(cwd: Path, *args: str, ts: int | None = None, author: str | None = None) -> str:
    env = dict(os.environ)
    if ts is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"@{ts} +0000"
    if author is not None:
        env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"] = author, f"{author}@example.invalid"
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


class Project:
    """A bare origin, a clone `work` that is `[loop].repo`, and an agents.toml around them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        git(root, "init", "-q", "--bare", "origin.git")
        git(root, "clone", "-q", str(root / "origin.git"), "work")
        self.work = root / "work"
        (root / "kickoff.md").write_text("phase {phase_id}\n")
        (root / "plan.md").write_text("plan\n")
        (root / "agents.toml").write_text(textwrap.dedent("""\
            [defaults]
            session_prefix = "wb-"
            log_dir = "run"
            backend = "demo"

            [loop]
            kickoff = "kickoff.md"
            repo = "work"
            phases = [{ id = "p1", plan = "plan.md", status = "status.md" }, { id = "p2", plan = "plan.md", status = "status.md" }]
            [loop.handoff]
            inboxes = { "inbox/builder.md" = "builder" }

            [[agent]]
            name = "builder"

            [[agent]]
            name = "w"
            backend = "watcher"
            watcher = "claims"
        """))
        self.config = load_config(root / "agents.toml")
        self.ctx = WatcherContext(self.config, self.config.agent("w"), root / "run")
        self.ledger = DecisionLedger(root / "run")

    def commit(self, subject: str, ts: int, files: dict[str, str] | None = None, author: str | None = None) -> str:
        for rel, text in (files or {}).items():
            (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.work / rel).write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "--allow-empty", "-q", "-m", subject, ts=ts, author=author)
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")

    def tick(self, module, now: float, window: float = 60):
        return flag_tick(module.make(self.ctx), self.ledger, host="w", now=now, window=window)

    def watchdog_state(self, state: dict) -> None:
        path = self.root / "run" / "state" / "watchdog.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def c(subject: str, ts: float = T0, author: str = "x", sha: str = "") -> AuthoredCommit:
    return AuthoredCommit(sha or f"{abs(hash((subject, ts))):040x}"[:40], ts, author, f"{author}@e", subject)


def test_builtins_write_only_their_own_declaration(tmp_path: Path) -> None:
    ctx = WatcherContext(config=None, agent=None, log_dir=tmp_path)
    for module in (claims, phases, inboxes, held):
        w = module.make(ctx)
        declared = module.DECLARATION
        assert declared.kind == module.__name__.rsplit(".", 1)[1]
        assert (w.kind, w.namespace, w.context, w.choice) == (declared.kind, declared.namespace, declared.context, declared.choice)


# -- claims --------------------------------------------------------------------------------------


def test_pending_claims_is_the_latest_claim_per_gate_with_no_later_review() -> None:
    newest_first = [c("review(G2): PASS", T0 + 50), c("claim(G3): cli", T0 + 40), c("claim(G1): fix", T0 + 30),
                    c("review(g1): FAIL", T0 + 20), c("claim(G2): json", T0 + 15), c("feat: claim(G1): parser", T0 + 10),
                    c("fix claim(G9) typo", T0 + 5)]
    found = {e.id: e.changed_at for e in claims.pending_claims(newest_first)}
    assert found == {"claim:g3": T0 + 40, "claim:g1": T0 + 30}


def test_a_stale_claim_on_origin_is_flagged_and_its_review_closes_the_flag(project: Project) -> None:
    project.commit("init", T0)
    sha = project.commit("claim(G1): parser", T0 + 10)
    project.commit("claim(G2): json", T0 + 100)
    report = project.tick(claims, now=T0 + 70)
    assert [(d.entity_id, d.inputs["sha"]) for d in report.new] == [("claim:g1", sha)]
    assert project.tick(claims, now=T0 + 80).new == []  # same episode: no-op
    project.commit("review(G1): PASS", T0 + 90)
    report = project.tick(claims, now=T0 + 95)
    assert report.new == [] and list(report.resolved) == [project.ledger.flags()[0].decision.id]
    assert [d.entity_id for d in project.tick(claims, now=T0 + 160).new] == ["claim:g2"]


def test_an_unpushed_claim_is_not_seen(project: Project) -> None:
    project.commit("init", T0)
    git(project.work, "commit", "--allow-empty", "-qm", "claim(G1): local", ts=T0)
    assert project.tick(claims, now=T0 + 1000).new == []


# -- phases: the activity fold ---------------------------------------------------------------------


def test_a_quiet_phase_is_flagged(project: Project) -> None:
    project.commit("init", T0)
    project.watchdog_state({"phase": {"index": 1, "started": T0 + 100, "complete": False}})
    assert project.tick(phases, now=T0 + 159).new == []
    (d,) = project.tick(phases, now=T0 + 160).new
    assert (d.entity_id, d.episode_start) == ("phase:p2", T0 + 100)


def test_an_actively_committing_phase_is_not_flagged(project: Project) -> None:
    project.watchdog_state({"phase": {"index": 0, "started": T0, "complete": False}})
    project.commit("wip: parser", T0 + 50)
    assert project.tick(phases, now=T0 + 100).new == []  # the commit at T0+50 is progress
    project.commit("wip: more", T0 + 100)
    assert project.tick(phases, now=T0 + 150).new == []
    (d,) = project.tick(phases, now=T0 + 160).new  # quiet since T0+100: a new episode
    assert d.episode_start == T0 + 100


def test_no_phase_is_flagged_once_the_sequence_is_complete(project: Project) -> None:
    project.commit("init", T0)
    project.watchdog_state({"phase": {"index": 1, "started": T0, "complete": True}})
    assert project.tick(phases, now=T0 + 10_000).new == []
    project.watchdog_state({})
    assert project.tick(phases, now=T0 + 10_000).new == []  # no watchdog state yet: nothing to say


# -- inboxes: "consumed" ---------------------------------------------------------------------------


def test_an_inbox_change_is_flagged_until_its_agent_commits(project: Project) -> None:
    project.commit("init", T0, {"inbox/builder.md": ""})
    project.commit("note for the builder", T0 + 10, {"inbox/builder.md": "please fix G1\n"}, author="adversary")
    project.commit("adversary wip", T0 + 20, author="adversary")
    (d,) = project.tick(inboxes, now=T0 + 70).new
    assert d.entity_id == "inbox:inbox/builder.md" and d.episode_start == T0 + 10
    project.commit("fix G1", T0 + 80, author="builder")
    report = project.tick(inboxes, now=T0 + 200)
    assert report.new == [] and len(report.resolved) == 1


def test_an_emptied_or_self_written_inbox_is_consumed(project: Project) -> None:
    project.commit("init", T0, {"inbox/builder.md": "old\n"}, author="adversary")
    project.commit("read it", T0 + 10, {"inbox/builder.md": ""}, author="adversary")
    assert project.tick(inboxes, now=T0 + 1000).new == []
    project.commit("note to self", T0 + 20, {"inbox/builder.md": "todo\n"}, author="builder")
    assert project.tick(inboxes, now=T0 + 1000).new == []


# -- held -----------------------------------------------------------------------------------------


def test_a_paused_agent_is_flagged_from_its_pause_event(project: Project) -> None:
    events = EventLog(project.root / "run")
    events.emit("builder", "pause", "paused by hand", T0)
    project.watchdog_state({"agents": {"builder": {"paused": True}, "w": {"paused": False}}})
    w = held.make(project.ctx)
    assert flag_tick(w, project.ledger, host="w", now=T0 + 59, window=60).new == []
    (d,) = flag_tick(w, project.ledger, host="w", now=T0 + 60, window=60).new
    assert (d.entity_id, d.episode_start) == ("held:builder", T0)
    events.emit("builder", "resume", "resumed by hand", T0 + 70)
    events.emit("builder", "pause", "paused by hand", T0 + 80)  # paused again: a new episode
    (d2,) = flag_tick(w, project.ledger, host="w", now=T0 + 140, window=60).new
    assert d2.episode_start == T0 + 80 and d2.id != d.id
    project.watchdog_state({"agents": {"builder": {"paused": False}}})
    report = flag_tick(w, project.ledger, host="w", now=T0 + 150, window=60)
    assert report.new == [] and list(report.resolved) == [d2.id]
