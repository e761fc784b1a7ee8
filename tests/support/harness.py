"""A whole watchdog over fakes: real config, real policies, real executor and state files, but an
in-memory tmux (`FakeRuntime`), git (`FakeGit`) and clock — no tmux, no git, no sleeps.

    h = Harness.make(tmp_path, AGENTS)      # agents.toml on the demo backend, team up
    h.rt.die("t-sup")                       # script the world
    assert h.tick(advance=30) == [("sup", "heal")]   # (agent, event) of what the tick did
    h.restart()                             # a new watchdog over what the last one left on disk
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.driver import TickResult, Watchdog
from agent_orchestrator.watchdog.events import read_events
from tests.support.fake_runtime import Clock, FakeGit, FakeRuntime

HEAD = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
"""


@dataclass
class Harness:
    """A watchdog, its fakes and its project folder."""

    path: Path
    clock: Clock
    rt: FakeRuntime
    git: FakeGit
    dog: Watchdog
    seen: int = 0
    last: TickResult | None = None

    @classmethod
    def make(cls, directory: Path, body: str, *, up: bool = True, files: dict[str, str] | None = None) -> Harness:
        """agents.toml = the demo defaults + `body` (dedented); kickoff.md, plan.md and `files`
        written beside it; with `up`, every enabled non-task agent and service started."""
        (directory / "kickoff.md").write_text("Phase {phase_id}: read {plan}")
        (directory / "plan.md").write_text("the plan")
        for name, text in (files or {}).items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text)
        path = directory / "agents.toml"
        path.write_text(textwrap.dedent(HEAD) + textwrap.dedent(body))
        clock = Clock()
        rt = FakeRuntime(clock)
        git = FakeGit(clock)
        if up:
            Project(load_config(path), rt).up(watchdog=False)
        return cls(path, clock, rt, git, cls._watchdog(path, rt, git, clock))

    @staticmethod
    def _watchdog(path: Path, rt: FakeRuntime, git: FakeGit, clock: Clock) -> Watchdog:
        return Watchdog(path, runtime=rt, git=lambda _path, _timeout: git, clock=clock, sleep=lambda _s: None)

    def restart(self) -> Watchdog:
        """The watchdog process died (between two ticks, or inside one): a new one over the same
        project, fakes and clock starts from what the old one left on disk."""
        self.dog = self._watchdog(self.path, self.rt, self.git, self.clock)
        return self.dog

    def edit_config(self, body: str) -> None:
        """Rewrite agents.toml as the demo defaults + `body` (the next tick re-reads it)."""
        self.path.write_text(textwrap.dedent(HEAD) + textwrap.dedent(body))

    def tick(self, advance: float = 0.0) -> list[tuple[str, str]]:
        """Move the clock, run one tick; return (agent, event) for each event it logged."""
        self.clock.advance(advance)
        self.last = self.dog.tick()
        return [(e["agent"], e["action"]) for e in self.new_events()]

    def new_events(self) -> list[dict[str, Any]]:
        """Events logged since the last call."""
        events = list(read_events(self.dog.log_dir))
        fresh, self.seen = events[self.seen:], len(events)
        return fresh

    def events(self, action: str | None = None) -> list[dict[str, Any]]:
        """Every event so far (of one `action`)."""
        return [e for e in read_events(self.dog.log_dir) if action is None or e["action"] == action]

    def request(self, action: str, agent: str = "", **extra: Any) -> None:
        """Drop a CLI request file, as `agents restart/pause/resume/phase` do."""
        from agent_orchestrator.watchdog.requests import request_watchdog

        request_watchdog(self.dog.log_dir, action, agent, **extra)

    def state_json(self) -> dict[str, Any]:
        """The state file as saved."""
        return json.loads((self.dog.log_dir / "state" / "watchdog.json").read_text())
