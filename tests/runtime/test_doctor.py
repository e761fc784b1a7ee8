"""`runtime.doctor.gather`: facts over temp HOMEs, fake agent CLIs that print a version, and fake
tmux/git/node on a PATH of our own (nothing real is run, nothing is written)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.doctor import Report, gather, resolve_bin
from agent_orchestrator.runtime.homes import prepare_home, scratch_home
from tests.support.clis import fake_cli, fake_pinned_copy

KEY = "sk-ant-test-0123456789abcdefghijKLMNOPQRST"


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A PATH folder with fake tmux, git and node."""
    folder = tmp_path / "tools"
    fake_cli(folder / "tmux", "tmux 3.3a")
    fake_cli(folder / "git", "git version 2.39.5")
    fake_cli(folder / "node", "v20.20.2")
    return folder


def write(tmp_path: Path, body: str, *, claude: str = "2.1.332 (Claude Code)", codex: str = "codex-cli 0.171.0") -> Path:
    """agents.toml with `body`; fake claude/codex CLIs (printing the given versions) in tmp/clis."""
    fake_cli(tmp_path / "clis" / "claude", claude)
    fake_cli(tmp_path / "clis" / "codex", codex)
    (tmp_path / "work").mkdir(exist_ok=True)
    path = tmp_path / "agents.toml"
    head = f"""
    [defaults]
    session_prefix = "doc-"
    log_dir = "run"
    dir = "work"

    [backend.claude]
    bin = "{tmp_path / 'clis' / 'claude'}"
    env = {{ ANTHROPIC_API_KEY = "{KEY}" }}

    [backend.codex]
    bin = "{tmp_path / 'clis' / 'codex'}"
    """
    path.write_text(textwrap.dedent(head) + textwrap.dedent(body), encoding="utf-8")
    return path


CLAUDE_AGENT = '[[agent]]\nname = "cl"\nbackend = "claude"\nprompt = "hi"\n'
CODEX_AGENT = '[[agent]]\nname = "cx"\nbackend = "codex"\nprompt = "hi"\n'


def run(path: Path, tools: Path, *, euid: int = 1000, **env: str) -> Report:
    return gather(load_config(path), env={"PATH": str(tools), "AO_CLI_CACHE": str(path.parent / "cache"), **env}, euid=euid)


def findings(report: Report, level: str | None = None, about: str = "") -> list[str]:
    """The findings (of `level`; about subjects starting with `about`) as "subject: message"."""
    return [f"{f.subject}: {f.message}" for f in report.findings
            if (level is None or f.level == level) and f.subject.startswith(about)]


def test_tools_and_matrix(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CLAUDE_AGENT), tools)
    assert [(t.name, t.version, t.path) for t in report.tools] == [
        ("tmux", "3.3a", str(tools / "tmux")), ("git", "2.39.5", str(tools / "git")), ("node", "v20.20.2", str(tools / "node"))]
    assert [(p.cli, p.current, p.previous, p.selected, p.pinned_path) for p in report.matrix] == [
        ("claude", "2.1.332", "2.1.197", "2.1.332", None), ("codex", "0.171.0", "0.169.0", "0.171.0", None)]
    previous = run(write(tmp_path, CLAUDE_AGENT), tools, AO_CLI_PINS="previous")
    assert [p.selected for p in previous.matrix] == ["2.1.197", "0.169.0"]
    assert previous.pins_choice == "previous"


def test_missing_tools(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report = run(write(tmp_path, CLAUDE_AGENT), empty)
    assert findings(report, "error") == ["tmux: tmux is not on PATH", "git: git is not on PATH"]
    assert findings(report, "warn", "node") == ["node: node is not on PATH (npm needs it to install the pinned CLIs)"]
    with_codex = run(write(tmp_path, CODEX_AGENT), empty)
    assert "node: node is not on PATH (the Codex CLI is a node launcher)" in findings(with_codex, "error")
    assert not with_codex.ok


def test_backend_versions_against_the_matrix(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CLAUDE_AGENT + CODEX_AGENT), tools)
    assert report.ok, report.findings
    (claude, codex) = report.backends
    assert (claude.name, claude.cli, claude.path, claude.version, claude.matrix_column, claude.agents) == (
        "claude", "claude", str(tmp_path / "clis" / "claude"), "2.1.332", "current", ("cl",))
    assert claude.version_output == "2.1.332 (Claude Code)" and claude.tested == ("2.1.332", "2.1.197")
    assert (codex.version, codex.matrix_column) == ("0.171.0", "current")
    assert findings(report, "ok")[:2] == ["backend claude: claude 2.1.332 (current pin of the tested matrix)",
                                          "backend codex: codex 0.171.0 (current pin of the tested matrix)"]
    old = run(write(tmp_path, CLAUDE_AGENT + CODEX_AGENT, claude="2.1.197 (Claude Code)", codex="codex-cli 0.169.0"), tools)
    assert [(b.version, b.matrix_column) for b in old.backends] == [("2.1.197", "previous"), ("0.169.0", "previous")]


def test_an_untested_version_is_a_warning(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CODEX_AGENT, codex="codex-cli 0.172.0"), tools)
    assert report.ok
    assert findings(report, "warn", "backend") == ["backend codex: codex 0.172.0 is not in the tested matrix (0.171.0 current, 0.169.0 previous)"]
    assert report.backends[0].matrix_column is None


def test_a_screen_table_that_does_not_fit_the_version(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CLAUDE_AGENT, claude="2.1.197 (Claude Code)"), tools)
    (backend,) = report.backends
    assert (backend.screen_table, backend.screen_table_wanted) == ("2.1.332", "2.1.197")
    assert findings(report, "warn", "backend") == ['backend claude: screens are read with the 2.1.332 table (screen_version = "" (the newest)) '
                                        'but the CLI is 2.1.197: set screen_version = "2.1.197" in [backend.claude]']
    fitted = write(tmp_path, CLAUDE_AGENT, claude="2.1.197 (Claude Code)")
    fitted.write_text(fitted.read_text().replace('[backend.codex]', 'screen_version = "2.1.197"\n\n[backend.codex]'))
    assert findings(run(fitted, tools), "warn", "backend") == []


def test_a_cli_that_is_not_there_names_the_pinned_copy(tmp_path: Path, tools: Path) -> None:
    path = write(tmp_path, CLAUDE_AGENT)
    path.write_text(path.read_text().replace(f'bin = "{tmp_path / "clis" / "claude"}"', 'bin = "claude"'))
    report = run(path, tools)
    assert not report.ok
    assert report.backends[0].path is None
    assert findings(report, "error") == ["backend claude: 'claude' not found on PATH; scripts/ensure-claude.sh installs the pinned claude"]
    copy = fake_pinned_copy(tmp_path / "cache", "claude-code@2.1.332", "@anthropic-ai/claude-code", "claude", "2.1.332")
    report = run(path, tools)
    assert report.matrix[0].pinned_path == str(copy)
    assert findings(report, "error") == [
        f"backend claude: 'claude' not found on PATH; the pinned claude 2.1.332 is at {copy}: put its folder on PATH or set "
        f'bin = "{copy}" in [backend.claude] (`agents rehearse run` uses it by itself)']


def test_a_cli_without_a_version_is_an_error(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CLAUDE_AGENT, claude="Claude Code (nightly)"), tools)
    assert findings(report, "error") == [f"backend claude: {tmp_path / 'clis' / 'claude'} --version: no version in its output (Claude Code (nightly))"]


def test_claude_home_first_run_state(tmp_path: Path, tools: Path, own_home: Path) -> None:
    path = write(tmp_path, CLAUDE_AGENT)
    work = str((tmp_path / "work").resolve())
    (agent,) = run(path, tools).agents
    assert (agent.home, agent.state_file, agent.state_exists, agent.scratch) == (str(own_home), str(own_home / ".claude.json"), False, False)
    assert [(c.key, c.ok) for c in agent.checks] == [
        ("hasCompletedOnboarding", False), (f"projects.{work}.hasTrustDialogAccepted", False), ("customApiKeyResponses.approved", False)]
    assert findings(run(path, tools), "warn")[0].startswith(f"agent cl: {own_home / '.claude.json'} missing: its first start shows claude's")

    (own_home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "projects": {work: {"hasTrustDialogAccepted": True}},
        "customApiKeyResponses": {"approved": ["some-other-key-tail1"], "rejected": []}}))
    report = run(path, tools)
    assert [(c.key, c.ok) for c in report.agents[0].checks][2] == ("customApiKeyResponses.approved", False)
    assert findings(report, "warn") == [f"agent cl: {own_home / '.claude.json'} not set: customApiKeyResponses.approved: its first start "
                                        "shows claude's first-run screens (the watchdog answers the trust, API-key and bypass dialogs; "
                                        "onboarding/login needs you)"]

    data = json.loads((own_home / ".claude.json").read_text())
    data["customApiKeyResponses"]["approved"].append(KEY[-20:])
    (own_home / ".claude.json").write_text(json.dumps(data))
    report = run(path, tools)
    assert all(c.ok for c in report.agents[0].checks)
    assert findings(report, "warn") == []


def test_no_api_key_no_approval_check(tmp_path: Path, tools: Path) -> None:
    path = write(tmp_path, CLAUDE_AGENT)
    path.write_text(path.read_text().replace(f'env = {{ ANTHROPIC_API_KEY = "{KEY}" }}', ""))
    assert [c.key.split(".")[-1] for c in run(path, tools).agents[0].checks] == ["hasCompletedOnboarding", "hasTrustDialogAccepted"]
    # The inherited environment counts too.
    assert len(run(path, tools, ANTHROPIC_API_KEY=KEY).agents[0].checks) == 3


def test_codex_home_trust(tmp_path: Path, tools: Path, own_home: Path) -> None:
    path = write(tmp_path, CODEX_AGENT)
    work = str((tmp_path / "work").resolve())
    (agent,) = run(path, tools).agents
    assert agent.state_file == str(own_home / ".codex" / "config.toml") and not agent.state_exists
    assert [(c.key, c.ok, c.detail) for c in agent.checks] == [(f'projects."{work}".trust_level', False, "unset")]
    (own_home / ".codex").mkdir()
    (own_home / ".codex" / "config.toml").write_text(f'[projects."{work}"]\ntrust_level = "trusted"\n')
    assert run(path, tools).agents[0].checks[0].ok
    # CODEX_HOME moves it.
    elsewhere = tmp_path / "codex-home"
    elsewhere.mkdir()
    (elsewhere / "config.toml").write_text(f'[projects."{work}"]\ntrust_level = "untrusted"\n')
    (agent,) = run(path, tools, CODEX_HOME=str(elsewhere)).agents
    assert agent.state_file == str(elsewhere / "config.toml")
    assert [(c.ok, c.detail) for c in agent.checks] == [(False, "untrusted")]


def test_scratch_homes_match_what_up_prepares(tmp_path: Path, tools: Path) -> None:
    path = write(tmp_path, CLAUDE_AGENT + CODEX_AGENT)
    path.write_text(path.read_text().replace("[backend.claude]", '[backend.claude]\nhome = "scratch"')
                    .replace("[backend.codex]", '[backend.codex]\nhome = "scratch"'))
    config = load_config(path)
    report = run(path, tools)
    assert [a.home for a in report.agents] == [str(scratch_home(config.defaults.log_dir, n)) for n in ("cl", "cx")]
    assert findings(report, "info")[0] == "agents: scratch HOMEs not prepared yet (`up` prepares them): cl, cx"
    for agent in config.agents:  # what Project.launch_of does at `up`
        prepare_home(scratch_home(config.defaults.log_dir, agent.name), cli=config.backend_of(agent).screen, agent=agent.name,
                     agent_dir=tmp_path / "work", env=config.backend_of(agent).env)
    report = run(path, tools)
    assert all(c.ok for a in report.agents for c in a.checks), report.agents
    assert report.agents[1].state_file == str(scratch_home(config.defaults.log_dir, "cx") / ".codex" / "config.toml")
    assert not [f for f in findings(report) if "scratch HOMEs" in f]


def test_hooks_and_the_claude_settings_layer(tmp_path: Path, tools: Path) -> None:
    path = write(tmp_path, CLAUDE_AGENT + CODEX_AGENT)
    path.write_text(path.read_text().replace("[backend.claude]", "[backend.claude]\nhooks = true")
                    .replace("[backend.codex]", "[backend.codex]\nhooks = false"))
    report = run(path, tools)
    assert [b.hooks for b in report.backends] == [True, False]
    cl, cx = report.agents
    settings = tmp_path / "run" / "hooks" / "cl.claude-settings.json"
    assert (cl.hooks, cl.hook_settings, cl.hook_settings_exists) == (True, str(settings), False)
    assert (cx.hooks, cx.hook_settings, cx.hook_settings_exists) == (False, None, None)
    assert "agents: hooks on; their Claude Code settings layers are written at `up`: cl" in findings(report, "info")
    settings.parent.mkdir(parents=True)
    settings.write_text("{}")
    report = run(path, tools)
    assert report.agents[0].hook_settings_exists is True
    assert not [f for f in findings(report) if "settings layers" in f]


def test_root_and_is_sandbox(tmp_path: Path, tools: Path) -> None:
    body = CLAUDE_AGENT + CODEX_AGENT + '[[agent]]\nname = "own"\nbackend = "claude"\nprompt = "hi"\nenv = { IS_SANDBOX = "0" }\n'
    body += '[[agent]]\nname = "cl2"\nbackend = "claude"\nprompt = "hi"\n'
    path = write(tmp_path, body)
    as_root = run(path, tools, euid=0)
    assert {a.name: a.is_sandbox for a in as_root.agents} == {"cl": "auto", "cx": None, "own": "0", "cl2": "auto"}
    assert ("root: running as root: `agents up` sets IS_SANDBOX=1 for claude agents cl, cl2 (needed for "
            "--dangerously-skip-permissions)") in findings(as_root, "info")
    assert findings(as_root, "warn", "agent own")[-1:] == ["agent own: running as root with --dangerously-skip-permissions but the config sets "
                                         "IS_SANDBOX=0: Claude Code refuses that flag as root unless IS_SANDBOX=1"]
    as_user = run(path, tools, euid=1000)
    assert {a.is_sandbox for a in as_user.agents} == {None}
    assert not [f for f in findings(as_user) if "IS_SANDBOX" in f]


def test_disabled_agents_and_their_backends_are_left_out(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CLAUDE_AGENT + CODEX_AGENT.replace('prompt = "hi"', 'prompt = "hi"\nenabled = false')), tools)
    assert [b.name for b in report.backends] == ["claude"]
    assert [a.name for a in report.agents] == ["cl"]


def test_a_backend_outside_the_matrix_is_not_probed(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, '[[agent]]\nname = "d"\nbackend = "demo"\n'), tools)
    (backend,) = report.backends
    assert (backend.cli, backend.tested, backend.version) == ("demo", (), None)
    assert backend.path is not None
    assert report.ok and report.agents[0].checks == ()


def test_the_report_is_json(tmp_path: Path, tools: Path) -> None:
    report = run(write(tmp_path, CLAUDE_AGENT), tools)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["backends"][0]["version"] == "2.1.332"
    assert set(data) == {"ok", "config", "euid", "pins_choice", "tools", "matrix", "backends", "agents", "findings"}


def test_resolve_bin(tmp_path: Path, tools: Path) -> None:
    assert resolve_bin("tmux", tmp_path, str(tools)) == str(tools / "tmux")
    assert resolve_bin("tools/git", tmp_path, "") == str(tools / "git")  # relative to the agent's dir
    assert resolve_bin("nope", tmp_path, str(tools)) is None
    assert resolve_bin(str(tmp_path / "missing"), tmp_path, str(tools)) is None


def test_agents_on_a_host_are_named_not_checked_here(tmp_path: Path, tools: Path) -> None:
    path = write(tmp_path, CLAUDE_AGENT + '\n[[host]]\nname = "gpu"\nssh = "me@gpu-box"\nlog_dir = "/srv/run"\n\n'
                 '[[agent]]\nname = "far"\nbackend = "codex"\nhost = "gpu"\ndir = "/srv/work"\nprompt = "hi"\n')
    report = run(path, tools)
    assert [a.name for a in report.agents] == ["cl"]
    assert findings(report, "info", "host gpu") == ["host gpu: far run on me@gpu-box: not checked from here"]
