"""The issue-run watcher: the pure state machine as a table, then whole runs through the watcher's
shell with real git and injected tmux / CI / delivery fakes (no sleeps: time is passed in)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.delivery import DeliveryResult
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.observation import PaneObservation
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchers.issue_runs import watcher as ir
from agent_orchestrator.watchers.issue_runs.store import RunError, RunStore, start_run
from agent_orchestrator.watchers.framework import DecisionLedger, WatcherContext

T0 = 1_700_000_000.0

W, I, E, U = "working", "idle", "error", "unknown"
TABLE = [
    # status, commit, ci, fixes, budget, prompted, stalled -> choice
    (U, None, None, 0, 2, False, True, ir.WAIT),
    (U, "c1", "red", 0, 2, False, True, ir.WAIT),
    (U, "c1", "green", 0, 2, False, False, ir.WAIT),
    (W, None, None, 0, 2, False, False, ir.WAIT),
    (I, None, None, 0, 2, False, False, ir.WAIT),
    (I, None, None, 0, 2, False, True, ir.ESCALATE),
    (E, None, None, 0, 2, False, False, ir.ESCALATE),
    (W, "c1", "pending", 0, 2, False, False, ir.WAIT),
    (I, "c1", None, 0, 2, False, True, ir.WAIT),
    (W, "c1", "green", 0, 2, False, False, ir.CLOSE),
    (I, "c1", "green", 2, 2, True, True, ir.CLOSE),
    (I, "c1", "red", 0, 2, False, False, ir.FIX_FORWARD),
    (W, "c1", "red", 0, 2, False, False, ir.WAIT),
    (I, "c1", "red", 1, 2, True, False, ir.WAIT),
    (I, "c1", "red", 1, 2, True, True, ir.FREEZE),
    (I, "c2", "red", 1, 2, False, False, ir.FIX_FORWARD),
    (I, "c3", "red", 2, 2, False, False, ir.FREEZE),
    (W, "c3", "red", 2, 2, False, False, ir.FREEZE),
    (I, "c1", "red", 0, 0, False, False, ir.FREEZE),
    (E, "c1", "red", 0, 2, False, False, ir.FREEZE),
    (E, "c1", "pending", 0, 2, False, False, ir.WAIT),
]


@pytest.mark.parametrize("status,commit,ci,fixes,budget,prompted,stalled,choice", TABLE)
def test_the_run_state_machine(status, commit, ci, fixes, budget, prompted, stalled, choice) -> None:
    verdict = ir.decide(ir.RunView(status, commit, ci, fixes, budget, prompted, stalled, elapsed=90))
    assert verdict.choice == choice, verdict.reason
    assert verdict.context in ir.VOCABULARY.contexts and verdict.reason


def test_ci_output_and_slots() -> None:
    assert [ir.ci_verdict(o) for o in ("green\n", "building...\nRED: 2 failed\n", "Pending", "", "ok")] == [
        "green", "red", "pending", None, None]
    assert ir.fill(["./ci.sh", "{commit}", "--issue={issue}", "{reason}{x}"], commit="abc", issue="7", reason="{issue}") == [
        "./ci.sh", "abc", "--issue=7", "{issue}{x}"]


def test_agent_status_from_the_pane() -> None:
    config_backend = SimpleNamespace(screen="", active_re=r"^demo: working", input_re=r"^demo>\s?(.*)$", limit_re="",
                                     fatal_re="", dialogs=[], process_name=["python"])
    pane = PaneObservation("s", "%1", 1, False, None, "python", T0, T0, 80, 24)
    assert ir.agent_status(None, None, config_backend) == ("error", "session gone")
    assert ir.agent_status(pane, None, config_backend)[0] == "unknown"
    assert ir.agent_status(pane, ["demo: working", "demo> "], config_backend)[0] == "working"
    assert ir.agent_status(pane, ["hello", "demo> "], config_backend)[0] == "idle"
    assert ir.agent_status(PaneObservation("s", "%1", 1, False, None, "bash", T0, T0, 80, 24), ["$ "], config_backend)[0] == "error"
    dead = PaneObservation("s", "%1", 1, True, None, "python", T0, T0, 80, 24)
    assert ir.agent_status(dead, None, config_backend, exit_code=0)[0] == "idle"
    assert ir.agent_status(dead, None, config_backend, exit_code=3) == ("error", "exited with status 3")


# -- whole runs through the shell ---------------------------------------------------------------------


def git(cwd: Path, *args: str, ts: float | None = None) -> str:
    env = dict(os.environ)
    if ts is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"@{int(ts)} +0000"
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


class FakeRuntime:
    """tmux as the watcher sees it: one pane per session with a scripted screen."""

    socket = None

    def __init__(self) -> None:
        self.screens: dict[str, list[str]] = {}
        self.started: list[tuple[str, list[str]]] = []

    def observe(self) -> dict[str, PaneObservation]:
        return {s: PaneObservation(s, "%1", 1, False, None, "python", T0, T0, 80, 24) for s in self.screens}

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        return self.screens[session]

    def start(self, session: str, argv: list[str], **kw: object) -> None:
        self.started.append((session, argv))
        self.screens[session] = ["demo: working", "demo> "]

    def restart(self, session: str, argv: list[str], **kw: object) -> None:
        self.start(session, argv)


class Run:
    """A project with a task agent `fixer` in its own clone, an issue-run watcher and fakes."""

    def __init__(self, root: Path, budget: int = 1) -> None:
        git(root, "init", "-q", "--bare", "origin.git")
        git(root, "clone", "-q", str(root / "origin.git"), "fixer")
        self.clone = root / "fixer"
        self.commit("init", T0 - 100)
        (root / "prompt.md").write_text("Fix issue 42.\n")
        (root / "agents.toml").write_text(textwrap.dedent(f"""\
            [defaults]
            session_prefix = "r-"
            log_dir = "run"
            backend = "demo"

            [[agent]]
            name = "fixer"
            kind = "task"
            dir = "fixer"

            [[agent]]
            name = "runs"
            backend = "watcher"
            watcher = "issue-runs"
            enabled = true
            window = 60
            ci_cmd = ["ci", "{{commit}}"]
            notify_cmd = ["notify", "{{issue}}", "{{reason}}"]
            fix_budget = {budget}
        """))
        self.config = load_config(root / "agents.toml")
        self.runtime = FakeRuntime()
        self.project = Project(self.config, self.runtime)  # type: ignore[arg-type]
        self.ci: dict[str, str] = {}
        self.commands: list[list[str]] = []
        self.sent: list[str] = []
        self.paused: list[str] = []
        self.ledger = DecisionLedger(root / "run")
        self.watcher = ir.IssueRunWatcher(WatcherContext(self.config, self.config.agent("runs"), root / "run"), self.ledger,
                                          runtime=self.runtime, run=self.run_cmd, send=self.send,  # type: ignore[arg-type]
                                          pause=lambda log_dir, action, agent: self.paused.append(agent))
        self.log_dir = root / "run"

    def commit(self, subject: str, ts: float) -> str:
        git(self.clone, "commit", "--allow-empty", "-qm", subject, ts=ts)
        git(self.clone, "push", "-q", "origin", "HEAD:main")
        return git(self.clone, "rev-parse", "HEAD")

    def run_cmd(self, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        self.commands.append(argv)
        out = self.ci.get(argv[1], "pending") if argv[0] == "ci" else ""
        return subprocess.CompletedProcess(argv, 0, out + "\n", "")

    def send(self, runtime: object, session: str, text: str, backend: object, attempts: int = 3) -> DeliveryResult:
        self.sent.append(text)
        return DeliveryResult(True, 1)

    def screen(self, *lines: str) -> None:
        self.runtime.screens["r-fixer"] = [*lines, "demo> "]

    def run(self) -> dict:
        return RunStore(self.log_dir).load()["42"]

    def tick(self, now: float) -> list[str]:
        return [d.choice for d in self.watcher.tick(now).new]


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def test_red_fix_forward_then_budget_spent_freezes_and_escalates(tmp_path: Path) -> None:
    r = Run(tmp_path, budget=1)
    started = start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    assert not started.outcome.failed and started.watchers == ["runs"]
    assert r.runtime.started[0][0] == "r-fixer" and r.runtime.started[0][1][-1] == "Fix issue 42.\n"
    assert r.run()["status"] == "running" and r.run()["base"] == git(r.clone, "rev-parse", "HEAD")
    assert r.tick(T0 + 10) == [] and r.run()["agent_status"] == "working"
    a = r.commit("fix: issue 42", T0 + 20)
    r.ci[a] = "red"
    r.screen("pushed it")
    assert r.tick(T0 + 30) == [ir.FIX_FORWARD]
    assert len(r.sent) == 1 and a[:12] in r.sent[0] and "fix-forward 1 of 1" in r.sent[0]
    assert r.tick(T0 + 40) == [] and len(r.sent) == 1  # one prompt per red commit
    b = r.commit("fix: issue 42 again", T0 + 50)
    r.ci[b] = "red"
    assert r.tick(T0 + 60) == [ir.FREEZE]
    run = r.run()
    assert run["status"] == "needs-human" and "budget (1) is spent" in run["reason"]
    assert r.paused == ["fixer"]
    assert r.commands[-1] == ["notify", "42", run["reason"]]
    assert [e["action"] for e in read_events(r.log_dir) if e["agent"] == "fixer"] == ["run-escalated"]
    assert [f.open for f in r.ledger.flags()] == [False, True]  # the fix-forward is an action, the escalation a flag
    calls = len(r.commands)
    assert r.tick(T0 + 1000) == [] and len(r.commands) == calls  # a terminal run is not ticked again


def test_pushed_and_green_closes_the_run(tmp_path: Path) -> None:
    r = Run(tmp_path)
    start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    a = r.commit("fix: issue 42", T0 + 20)
    r.ci[a] = "pending"
    assert r.tick(T0 + 30) == []
    r.ci[a] = "green"
    assert r.tick(T0 + 40) == [ir.CLOSE]
    assert r.run()["status"] == "closed" and r.ledger.flags(open_only=True) == []
    assert [e["action"] for e in read_events(r.log_dir)] == ["run-closed"]
    with pytest.raises(RunError, match="no such agent"):
        start_run(r.project, "43", "nosuch", tmp_path / "prompt.md", T0)
    again = start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0 + 100)  # a closed issue may run again
    assert again.run["status"] == "running" and RunStore(r.log_dir).load()["42"]["previous"][0]["status"] == "closed"


def test_stalled_before_push_escalates_once_and_unknown_never_acts(tmp_path: Path) -> None:
    r = Run(tmp_path)
    start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0)
    r.screen("Do you trust this folder?", "1. Yes")  # unsubmitted input / a dialog: the status is unknown
    r.runtime.screens["r-fixer"] = ["demo> half a message"]
    assert r.tick(T0 + 1000) == [] and r.run()["agent_status"] == "unknown"
    with pytest.raises(RunError, match="in flight"):
        start_run(r.project, "42", "fixer", tmp_path / "prompt.md", T0 + 1000)
    with pytest.raises(RunError, match="busy with issue 42"):
        start_run(r.project, "43", "fixer", tmp_path / "prompt.md", T0 + 1000)
    r.screen("thinking about it")
    assert r.tick(T0 + 1001) == [ir.ESCALATE]
    assert r.run()["status"] == "needs-human" and "nothing pushed" in r.run()["reason"] and r.paused == []
    assert r.tick(T0 + 2000) == []
    assert len(r.ledger.flags(open_only=True)) == 1


def test_agents_run_refuses_what_it_cannot_watch(tmp_path: Path) -> None:
    r = Run(tmp_path)
    with pytest.raises(RunError, match="task"):
        start_run(r.project, "1", "runs", tmp_path / "prompt.md", T0)
    (tmp_path / "empty.md").write_text("  \n")
    with pytest.raises(RunError, match="empty"):
        start_run(r.project, "1", "fixer", tmp_path / "empty.md", T0)
    import shutil

    shutil.rmtree(r.clone / ".git")
    with pytest.raises(RunError, match="nowhere to see the pushed commit"):
        start_run(r.project, "1", "fixer", tmp_path / "prompt.md", T0)
