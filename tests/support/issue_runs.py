"""Issue-run test support: a project with a task agent `fixer` in its own clone and an issue-run
watcher over injected tmux / CI / delivery fakes (no sleeps: time is passed in)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.delivery import DeliveryResult
from agent_orchestrator.runtime.observation import PaneObservation
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchers.decisions import WatcherContext
from agent_orchestrator.watchers.issue_runs import watcher as ir
from agent_orchestrator.watchers.issue_runs.store import Run, RunStore
from agent_orchestrator.watchers.ledger import DecisionLedger

T0 = 1_700_000_000.0


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


class RunProject:
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

    def run(self) -> Run:
        return RunStore(self.log_dir).load()["42"]

    def tick(self, now: float) -> list[str]:
        return [d.choice for d in self.watcher.tick(now).new]
