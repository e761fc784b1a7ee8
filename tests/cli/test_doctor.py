"""`agents doctor` through typer's CliRunner (fake agent CLIs, each test its own HOME), and the one
line `agents up` prints when it sets IS_SANDBOX=1 as root (real tmux on a private socket)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.doctor import gather
from tests.support.clis import fake_cli
from tests.support.tmux import wait_until, write_config

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def config(tmp_path: Path, version: str = "2.1.332 (Claude Code)", bin_: str | None = None, extra: str = "") -> str:
    cli = fake_cli(tmp_path / "clis" / "claude", version)
    (tmp_path / "work").mkdir(exist_ok=True)
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(f"""
        [defaults]
        session_prefix = "doc-"
        log_dir = "run"
        dir = "work"

        [backend.claude]
        bin = "{bin_ or cli}"
        {extra}

        [[agent]]
        name = "cl"
        prompt = "hi"
        """), encoding="utf-8")
    return str(path)


def prepare_claude_home(home: Path, work: Path) -> None:
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "projects": {str(work.resolve()): {"hasTrustDialogAccepted": True}}}))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AO_CLI_PINS", "AO_CLAUDE_VERSION", "AO_CODEX_VERSION", "AO_CLI_FROM_PATH", "IS_SANDBOX"):
        monkeypatch.delenv(var, raising=False)


def test_all_fine_exits_0(tmp_path: Path, own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    path = config(tmp_path)
    prepare_claude_home(own_home, tmp_path / "work")
    result = agents("doctor", "--config", path)
    assert result.exit_code == 0, result.output
    out = result.output
    for section in ("tools", "tested CLI versions", "backends", "agents", "findings"):
        assert f"\n{section}" in out
    assert f"claude: {tmp_path / 'clis' / 'claude'}: 2.1.332 (Claude Code) (current pin)" in out
    assert "claude (@anthropic-ai/claude-code): current 2.1.332, previous 2.1.197; selected 2.1.332" in out
    assert "ok    backend claude: claude 2.1.332 (current pin of the tested matrix)" in out
    assert "hasCompletedOnboarding yes" in out
    assert "tmux " in out and "git " in out and "node " in out
    assert out.rstrip().endswith(("all fine: 0 errors, 0 warnings", "fine, with warnings: 0 errors, 1 warning"))  # node may be absent


def test_warnings_exit_0_unless_strict(tmp_path: Path, own_home: Path) -> None:
    path = config(tmp_path, version="2.1.400 (Claude Code)")
    prepare_claude_home(own_home, tmp_path / "work")
    result = agents("doctor", "--config", path)
    assert result.exit_code == 0, result.output
    assert "warn  backend claude: claude 2.1.400 is not in the tested matrix (2.1.332 current, 2.1.197 previous)" in result.output
    assert "(NOT in the tested matrix)" in result.output
    assert agents("doctor", "--strict", "--config", path).exit_code == 1


def test_a_missing_cli_exits_1(tmp_path: Path) -> None:
    result = agents("doctor", "--config", config(tmp_path, bin_=str(tmp_path / "nowhere" / "claude")))
    assert result.exit_code == 1
    assert f"error backend claude: '{tmp_path / 'nowhere' / 'claude'}' not found" in result.output
    assert "something is wrong: 1 error" in result.output


def test_a_config_error_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_text('[defaults]\nsession_prefix = "x-"\nlog_dir = "run"\n[[agent]]\nname = "a"\nkind = "daemon"\n')
    result = agents("doctor", "--config", str(path))
    assert result.exit_code == 2 and 'agent[0].kind: "daemon" is not one of' in result.output


def test_a_bad_pin_selection_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AO_CLI_PINS", "newest")
    result = agents("doctor", "--config", config(tmp_path))
    assert result.exit_code == 2
    assert "AO_CLI_PINS='newest': expected current or previous" in result.output


def test_json_prints_the_same_facts(tmp_path: Path, own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("AO_CLI_PINS", "previous")
    path = config(tmp_path, version="2.1.197 (Claude Code)", extra='screen_version = "2.1.197"')
    result = agents("doctor", "--json", "--config", path)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    expected = gather(load_config(Path(path))).to_dict()
    assert json.loads(json.dumps(expected)) == payload
    assert payload["pins_choice"] == "previous"
    assert [p["selected"] for p in payload["matrix"]] == ["2.1.197", "0.169.0"]
    assert payload["backends"][0]["version"] == "2.1.197" and payload["backends"][0]["matrix_column"] == "previous"
    assert payload["agents"][0]["home"] == str(own_home)


def test_root_says_is_sandbox_is_set_at_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    result = agents("doctor", "--config", config(tmp_path))
    assert "(running as root;" in result.output
    assert "IS_SANDBOX=1 set by `up` (root)" in result.output
    assert ("info  root: running as root: `agents up` sets IS_SANDBOX=1 for claude agent cl (needed for "
            "--dangerously-skip-permissions)") in result.output
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "IS_SANDBOX" not in agents("doctor", "--config", config(tmp_path)).output


# -- `agents up` as root --------------------------------------------------------------------------


@pytest.mark.tmux
@pytest.mark.parametrize("euid", [0, 1000])
def test_up_as_root_sets_is_sandbox_and_says_so_once(tmp_path: Path, socket: str, monkeypatch: pytest.MonkeyPatch,
                                                    euid: int) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    fake = tmp_path / "clis" / "claude"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "IS_SANDBOX=${IS_SANDBOX-unset}" > "$AO_TEST_OUT.tmp" && mv "$AO_TEST_OUT.tmp" "$AO_TEST_OUT"\n'
                    "exec sleep 600\n")
    fake.chmod(0o755)
    seen = {name: tmp_path / f"{name}.env" for name in ("builder", "adversary", "mine")}
    path = write_config(tmp_path, socket, f"""
        [backend.fake]
        extends = "claude"
        bin = "{fake}"
        hooks = false

        [[agent]]
        name = "builder"
        backend = "fake"
        env = {{ AO_TEST_OUT = "{seen['builder']}" }}

        [[agent]]
        name = "adversary"
        backend = "fake"
        env = {{ AO_TEST_OUT = "{seen['adversary']}" }}

        [[agent]]
        name = "mine"
        backend = "fake"
        env = {{ AO_TEST_OUT = "{seen['mine']}", IS_SANDBOX = "yes" }}
        """)
    up = agents("up", "--config", str(path))
    assert up.exit_code == 0, up.output
    note = "running as root: IS_SANDBOX=1 set for claude agents builder, adversary (needed for --dangerously-skip-permissions)"
    assert up.output.count("IS_SANDBOX") == (1 if euid == 0 else 0)
    assert (note in up.output) == (euid == 0)
    assert wait_until(lambda: all(p.exists() for p in seen.values()), timeout=20)
    expected = "IS_SANDBOX=1\n" if euid == 0 else "IS_SANDBOX=unset\n"
    assert seen["builder"].read_text() == expected and seen["adversary"].read_text() == expected
    assert seen["mine"].read_text() == "IS_SANDBOX=yes\n"
    again = agents("up", "--config", str(path))  # all running: nothing launched, nothing said
    assert "IS_SANDBOX" not in again.output
    assert agents("down", "--config", str(path)).exit_code == 0
