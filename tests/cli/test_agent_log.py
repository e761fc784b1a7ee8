"""`agent-log`: transcripts found from agents.toml, printed as a clean log, followed live.

Fixtures: `tests.support.transcripts` (the formats Claude Code 2.1.197 and Codex CLI 0.169.0
write).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.agent_log import app, follow, parse_since
from agent_orchestrator.transcripts.discovery import claude_slug, path_source
from agent_orchestrator.transcripts.reader import LogSet
from agent_orchestrator.transcripts.render import render_line
from tests.support.transcripts import (
    CLAUDE_SESSION_LOG,
    CODEX_ROLLOUT_LOG,
    SID,
    c_assistant,
    c_user,
    ts,
    write_claude,
    write_codex,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_parse_since() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("1h30m", now) == now - timedelta(minutes=90)
    assert parse_since("45s", now) == now - timedelta(seconds=45)
    assert parse_since("2026-11-22T03:10:05Z", now) == datetime(2026, 11, 22, 3, 10, 5, tzinfo=UTC)
    assert parse_since("2026-11-22T04:10:05+01:00", now) == datetime(2026, 11, 22, 3, 10, 5, tzinfo=UTC)
    assert parse_since("2026-11-22T03:10", now) == datetime(2026, 11, 22, 3, 10, tzinfo=UTC)  # naive = UTC
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday", now)


# -- the CLI -----------------------------------------------------------------------------------


def project(tmp_path: Path, *, codex: bool = False) -> tuple[Path, Path, Path]:
    """An agents.toml with agent `builder` (claude) and, if asked, `checker` (codex), each with its
    own HOME. Returns (config, builder's transcript folder, checker's sessions folder)."""
    home_b, home_c = tmp_path / "home-b", tmp_path / "home-c"
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    text = f"""
[defaults]
session_prefix = "t-"
log_dir = "logs"
backend = "claude"

[[agent]]
name = "builder"
dir = "{app_dir}"
env = {{HOME = "{home_b}"}}
"""
    if codex:
        text += f"""
[[agent]]
name = "checker"
backend = "codex"
dir = "{app_dir}"
env = {{HOME = "{home_c}"}}
"""
    cfg = tmp_path / "agents.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg, home_b / ".claude" / "projects" / claude_slug(app_dir), home_c / ".codex" / "sessions"


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(autouse=True)
def _no_agent_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)


def test_finds_an_agents_transcripts_by_name(tmp_path: Path) -> None:
    cfg, folder, _ = project(tmp_path)
    write_claude(folder / f"{SID}.jsonl")
    write_claude(tmp_path / "home-b" / ".claude" / "projects" / "-elsewhere" / "x.jsonl", [c_user(ts(1), "not mine")])
    result = run("builder", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == CLAUDE_SESSION_LOG


def test_json_since_and_last_n(tmp_path: Path) -> None:
    cfg, folder, _ = project(tmp_path)
    write_claude(folder / f"{SID}.jsonl")
    result = run("builder", "-c", str(cfg), "--json", "--since", "2026-11-22T03:10:06Z", "-n", "3")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["agent"], r["kind"], r["tool"]) for r in rows] == [
        ("builder", "tool_result", "Grep"), ("builder", "api_error", None), ("builder", "system", None)]  # fmt: skip
    since = run("builder", "-c", str(cfg), "--since", "2026-11-22T03:10:09.5Z")
    assert since.stdout.splitlines() == CLAUDE_SESSION_LOG[-2:]
    assert run("builder", "-c", str(cfg), "--since", "100000d").stdout.splitlines() == CLAUDE_SESSION_LOG
    assert run("builder", "-c", str(cfg), "--since", "2999-01-01").stdout == ""


def test_all_merges_agents_in_time_order_with_prefixes(tmp_path: Path) -> None:
    cfg, folder, sessions = project(tmp_path, codex=True)
    write_claude(folder / f"{SID}.jsonl", [c_user(ts(1, 20), "first"), c_user(ts(3, 20), "third")])
    write_codex(sessions, str(tmp_path / "app"))
    write_codex(sessions, "/some/other/project", minute=21, name="01a20158-0000-7373-859a-060abfbe48ef")
    result = run("--all", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == ["[builder] 2026-11-22T03:20:01Z user  first", "[checker] 2026-11-22T03:20:02Z user  make the file",
                         "[builder] 2026-11-22T03:20:03Z user  third"]  # fmt: skip
    assert [ln.removeprefix("[checker] ") for ln in lines if ln.startswith("[checker]")] == CODEX_ROLLOUT_LOG
    assert len(lines) == 2 + len(CODEX_ROLLOUT_LOG)  # the other project's rollout is not checker's


def test_path_option_reads_files_and_folders(tmp_path: Path) -> None:
    claude = write_claude(tmp_path / "c" / f"{SID}.jsonl")
    write_codex(tmp_path / "sessions", "/x")
    (tmp_path / "sessions" / "notes.jsonl").write_text('{"a": 1}\n', encoding="utf-8")
    result = run("--path", str(claude), "-p", str(tmp_path / "sessions"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == CLAUDE_SESSION_LOG + CODEX_ROLLOUT_LOG
    assert "notes.jsonl: not a Claude Code or Codex transcript" in result.stderr


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    cfg, folder, _ = project(tmp_path)
    unknown = run("biulder", "-c", str(cfg))
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == f'unknown agent "biulder" in {cfg} (agents: builder); did you mean "builder"?'
    missing = run("builder", "-c", str(cfg))
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"no transcripts found; looked in {folder}/*.jsonl"
    bad = tmp_path / "bad.toml"
    bad.write_text('[defaults]\nsession_prefix = "t-"\nlog_dir = "l"\nbackedn = "claude"\n', encoding="utf-8")
    config_error = run("x", "-c", str(bad))
    assert config_error.exit_code == 2 and 'defaults.backedn: unknown key; did you mean "backend"?' in config_error.stderr
    assert run("-c", str(cfg)).exit_code == 2  # neither NAME, --all nor --path
    assert run("builder", "--all", "-c", str(cfg)).exit_code == 2
    assert run("builder", "-c", str(cfg), "--since", "soon").exit_code == 2
    assert run("--path", str(tmp_path / "nope")).exit_code == 2


def test_transcripts_path_and_claude_config_dir_override_the_base(tmp_path: Path) -> None:
    cfg, _, _ = project(tmp_path)
    app_dir = tmp_path / "app"
    text = cfg.read_text(encoding="utf-8") + '\n[backend.claude]\ntranscripts = {path = "~/custom", reader = "claude"}\n'
    cfg.write_text(text, encoding="utf-8")
    write_claude(tmp_path / "home-b" / "custom" / claude_slug(app_dir) / "a.jsonl", [c_user(ts(1), "custom base")])
    assert run("builder", "-c", str(cfg)).stdout == "2026-11-22T03:10:01Z user  custom base\n"
    cfg.write_text(text.replace('"~/custom"', '"~/.claude/projects"').replace("env = {", f'env = {{CLAUDE_CONFIG_DIR = "{tmp_path / "cc"}", '),
                   encoding="utf-8")  # fmt: skip
    write_claude(tmp_path / "cc" / "projects" / claude_slug(app_dir) / "b.jsonl", [c_user(ts(2), "config dir")])
    assert run("builder", "-c", str(cfg)).stdout == "2026-11-22T03:10:02Z user  config dir\n"


# -- following ---------------------------------------------------------------------------------


def test_follow_picks_up_appended_lines_and_new_sessions(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    first = write_claude(folder / "a.jsonl", [c_user(ts(1), "old")])
    logs = LogSet([path_source([folder])])
    assert [e.text for _, e in logs.poll()] == ["old"]
    reply = c_assistant(ts(3), "msg_F", {"type": "text", "text": "on it"})
    steps = [
        lambda: first.open("a").write(c_user(ts(2), "new prompt") + "\n" + reply[:30]),  # torn line
        lambda: first.open("a").write(reply[30:] + "\n"),
        lambda: write_claude(folder / "b.jsonl", [c_user(ts(4), "second session")]),
        lambda: None,
    ]
    batches: list[list[str]] = []
    follow(logs, lambda batch: batches.append([render_line(e) for _, e in batch]),
           sleep=lambda _: steps.pop(0)(), polls=4)  # fmt: skip
    assert batches == [["2026-11-22T03:10:02Z user  new prompt"], ["2026-11-22T03:10:03Z asst  on it"],
                       ["2026-11-22T03:10:04Z user  second session"]]  # fmt: skip


def test_follow_respects_since(tmp_path: Path) -> None:
    path = write_claude(tmp_path / "a.jsonl", [])
    logs = LogSet([path_source([path])])
    logs.poll()
    out: list[str] = []
    path.write_text(c_user(ts(1), "before") + "\n" + c_user(ts(9), "after") + "\n", encoding="utf-8")
    follow(logs, lambda b: out.extend(e.text for _, e in b), since=datetime(2026, 11, 22, 3, 10, 5, tzinfo=UTC),
           sleep=lambda _: None, polls=1)  # fmt: skip
    assert out == ["after"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child")
def test_follow_cli_streams_and_exits_0_on_ctrl_c(tmp_path: Path) -> None:
    path = write_claude(tmp_path / "a.jsonl", [c_user(ts(1), "hello")])
    out = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, str(ROOT / "agent-log.py"), "-f", "--path", str(path)],
                                stdout=sink, stderr=subprocess.PIPE, env=env)  # fmt: skip
    try:
        wait_for(lambda: "hello" in out.read_text())
        with path.open("a") as f:
            f.write(c_user(ts(2), "appended") + "\n")
        wait_for(lambda: "appended" in out.read_text())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    assert out.read_text().splitlines() == ["2026-11-22T03:10:01Z user  hello", "2026-11-22T03:10:02Z user  appended"]


def wait_for(cond, timeout: float = 60.0) -> None:  # generous: a loaded machine starts Python slowly
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_out_writes_per_agent_log_files(tmp_path: Path) -> None:
    path = write_claude(tmp_path / "t" / "s.jsonl")
    out = tmp_path / "logs"
    result = CliRunner().invoke(app, ["--path", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == ""  # nothing on stdout: the lines went to the file
    text = (out / "transcripts.log").read_text()
    assert "tool  Bash(" in text and text.count("\n") >= 4 and not text.startswith("[")
