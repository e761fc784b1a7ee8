"""Running as root: Claude Code refuses --dangerously-skip-permissions unless IS_SANDBOX=1, so
`Project.launch_of` adds it for claude agents launched with that flag (the uid is injected; these
tests run as root on the CI machine, and the default — os.geteuid() — is checked too)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project, needs_sandbox_env, sandbox_note

CONFIG = """
[defaults]
session_prefix = "sb-"
log_dir = "run"
backend = "claude"

[backend.quiet]
extends = "claude"
flags = []

[backend.own]
extends = "claude"
env = { IS_SANDBOX = "0" }

[backend.scratchy]
extends = "claude"
home = "scratch"
env = { ANTHROPIC_API_KEY = "sk-ant-test-00000000000000000000" }

[[agent]]
name = "builder"
prompt = "build"

[[agent]]
name = "adversary"
prompt = "review"

[[agent]]
name = "mine"
prompt = "hi"
env = { IS_SANDBOX = "1" }

[[agent]]
name = "theirs"
backend = "own"
prompt = "hi"

[[agent]]
name = "asker"
backend = "quiet"
prompt = "hi"

[[agent]]
name = "coder"
backend = "codex"
prompt = "hi"

[[agent]]
name = "rehearser"
backend = "scratchy"
prompt = "hi"
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return path


def env_of(project: Project, name: str) -> dict[str, str]:
    agent = project.config.agent(name)
    assert agent is not None
    return project.launch_of(agent).env


def test_as_root_claude_agents_with_the_flag_get_is_sandbox(config_path: Path) -> None:
    project = Project(load_config(config_path), euid=0)
    assert "--dangerously-skip-permissions" in project.launch_of(project.config.agents[0]).argv
    assert env_of(project, "builder")["IS_SANDBOX"] == "1"
    assert env_of(project, "adversary")["IS_SANDBOX"] == "1"
    assert list(project.sandboxed) == ["builder", "adversary"]
    assert sandbox_note(project.sandboxed) == ("running as root: IS_SANDBOX=1 set for claude agents builder, adversary "
                                               "(needed for --dangerously-skip-permissions)")


def test_the_users_own_is_sandbox_stands(config_path: Path) -> None:
    project = Project(load_config(config_path), euid=0)
    assert env_of(project, "mine")["IS_SANDBOX"] == "1"  # the agent's env
    assert env_of(project, "theirs")["IS_SANDBOX"] == "0"  # the backend's env, whatever its value
    assert project.sandboxed == {}


def test_without_the_flag_or_on_another_cli_nothing_is_added(config_path: Path) -> None:
    project = Project(load_config(config_path), euid=0)
    assert "IS_SANDBOX" not in env_of(project, "asker")  # claude without --dangerously-skip-permissions
    assert "IS_SANDBOX" not in env_of(project, "coder")  # codex
    assert project.sandboxed == {}


def test_a_scratch_home_agent_gets_both(config_path: Path) -> None:
    project = Project(load_config(config_path), euid=0)
    env = env_of(project, "rehearser")
    assert env["IS_SANDBOX"] == "1" and env["HOME"].endswith("run/homes/rehearser")
    assert list(project.sandboxed) == ["rehearser"]


def test_not_as_root_nothing_is_added(config_path: Path) -> None:
    project = Project(load_config(config_path), euid=1000)
    for name in ("builder", "adversary", "rehearser"):
        assert "IS_SANDBOX" not in env_of(project, name)
    assert project.sandboxed == {}
    assert sandbox_note(project.sandboxed) == ""


def test_the_default_uid_is_the_real_one(config_path: Path) -> None:
    project = Project(load_config(config_path))
    assert project.euid == os.geteuid()
    assert ("IS_SANDBOX" in env_of(project, "builder")) == (os.geteuid() == 0)


def test_one_agent_is_named_in_the_singular() -> None:
    assert sandbox_note(["builder"]) == ("running as root: IS_SANDBOX=1 set for claude agent builder "
                                         "(needed for --dangerously-skip-permissions)")


def test_needs_sandbox_env_table(config_path: Path) -> None:
    config = load_config(config_path)
    claude, codex = config.backends["claude"], config.backends["codex"]
    flag = ["claude", "--dangerously-skip-permissions"]
    assert needs_sandbox_env(claude, flag, {}, 0)
    assert not needs_sandbox_env(claude, flag, {}, 501)
    assert not needs_sandbox_env(claude, flag, {"IS_SANDBOX": ""}, 0)
    assert not needs_sandbox_env(claude, ["claude"], {}, 0)
    assert not needs_sandbox_env(codex, ["codex", "--dangerously-skip-permissions"], {}, 0)
