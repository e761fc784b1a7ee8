"""Shared configs for the policy tables.

- `config` (TEAM): one phase, a loop agent `builder`, a persistent `sup` woken every 600 s and a
  task `job` re-run every 100 s, with a short restart policy (burst 3, backoff 5 s doubling to 40 s);
- `loop_config` (LOOP): two phases, loop agents `builder` and `adversary`, a persistent `second`,
  the on_complete task `reporter`, claim/review pings and one inbox;
- `make_config(extra, base="team")`: either one ("team", "loop") with `extra` TOML appended (a
  service, a `[watchdog]` table, ...), or `extra` alone (base "").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent_orchestrator.config import Config
from tests.support.policies import write_config

TEAM = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
watch = "heal+stall"

[watchdog]
stall_grace = 60
limit_reset_slack = 30
limit_probe_fallback = 900
start_secs = 10
restart_backoff = 5
restart_backoff_max = 40
restart_burst = 3
restart_window = 600

[backend.demo]
stall_idle = 300
hung_idle = 1200

[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "status-p1.md" }]

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "sup"
kind = "persistent"
wake = { interval = 600, prompt = "check the queue" }

[[agent]]
name = "job"
kind = "task"
wake = { interval = 100, prompt = "run the report" }
"""

LOOP = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"

[loop]
kickoff = "kickoff.md"
repo = "work"
phases = [
  { id = "p1", plan = "plan.md", status = "s1.md" },
  { id = "p2", plan = "plan.md", status = "s2.md" },
]
on_complete = { run = "reporter" }

[loop.handoff]
claim_pings = ["adversary", "second"]
review_pings = "builder"
inboxes = { "inbox/builder.md" = "builder" }

[[agent]]
name = "builder"
kind = "loop"
[[agent]]
name = "adversary"
kind = "loop"
[[agent]]
name = "second"
kind = "persistent"
[[agent]]
name = "reporter"
kind = "task"
"""


BASES = {"team": TEAM, "loop": LOOP, "": ""}


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """A factory: `make_config(extra="", base="team")` loads the TEAM ("team") or LOOP ("loop")
    config with `extra` appended — or `extra` alone (base "") — each from its own folder."""
    made = 0

    def make(extra: str = "", base: str = "team") -> Config:
        nonlocal made
        made += 1
        folder = tmp_path / f"config-{made}"
        folder.mkdir()
        return write_config(folder, BASES[base] + "\n" + extra)

    return make


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    """The TEAM config."""
    return make_config()


@pytest.fixture
def loop_config(make_config: Callable[..., Config]) -> Config:
    """The LOOP config."""
    return make_config(base="loop")
