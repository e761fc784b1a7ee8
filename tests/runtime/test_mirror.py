"""Local copies of what agents on host `b` write (runtime/mirror.py), over a real sshd: hook events,
transcripts and Claude's status file arrive incrementally — the offset is the local copy's size,
only complete lines cross — and the readers here find them where they look for an agent's files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import tomli_w

from agent_orchestrator.agents import hooks
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.transcripts.discovery import agent_home, claude_slug, transcript_files
from agent_orchestrator.transcripts.tail import tail
from agent_orchestrator.watchdog.observe import claude_status_file
from tests.support.sshd import Sshd
from tests.support.tmux import private_socket


def setup(tmp_path: Path, sshd: Sshd) -> tuple[Project, Path]:
    remote_log = tmp_path / "b's \"remote\" logs"
    raw = {
        "defaults": {"session_prefix": "m-", "log_dir": "run", "backend": "cc", "tmux_socket": private_socket()},  # never started
        "watchdog": {"log_tokens": True},
        "backend": {"cc": {"extends": "claude", "bin": "true", "hooks": True, "home": "scratch"},
                    "cx": {"extends": "codex", "bin": "true"}},
        "host": [sshd.host_table("b", log_dir=remote_log, tmux_socket=private_socket())],
        "agent": [{"name": "bob", "host": "b", "dir": "/srv/review"},
                  {"name": "cora", "host": "b", "dir": "/srv/codex work", "backend": "cx", "env": {"HOME": str(tmp_path / "cora home")}}],
    }
    (tmp_path / "agents.toml").write_text(tomli_w.dumps(raw), encoding="utf-8")
    return Project(load_config(tmp_path / "agents.toml")), remote_log


def test_hook_events_arrive_incrementally_whole_lines_only(tmp_path: Path, sshd: Sshd) -> None:
    proj, remote_log = setup(tmp_path, sshd)
    remote = remote_log / "hooks" / "bob.jsonl"
    remote.parent.mkdir(parents=True)
    remote.write_bytes(b'{"ts": 1, "event": "SessionStart", "data": {}}\n{"ts": 2, "event": "UserPro')  # a torn last line
    local = hooks.hook_log(proj.log_dir, "bob")
    assert proj.refresh(tokens=False) == {}
    assert local.read_bytes() == b'{"ts": 1, "event": "SessionStart", "data": {}}\n'
    with remote.open("ab") as fh:
        fh.write(b'mptSubmit", "data": {}}\n')
    # the host's first line changes in place, same length: an incremental read never sees it again
    text = remote.read_bytes()
    remote.write_bytes(text.replace(b"SessionStart", b"SessionStopp"))
    assert proj.refresh(tokens=False) == {}
    records, offset, reset = tail(local, 0)
    assert [r["event"] for r in records] == ["SessionStart", "UserPromptSubmit"] and not reset
    assert offset == remote.stat().st_size
    # the host's file is replaced by a shorter one: the copy starts over, its readers see a reset
    remote.write_bytes(b'{"ts": 3, "event": "Stop", "data": {}}\n')
    assert proj.refresh(tokens=False) == {}
    records, _, reset = tail(local, offset)
    assert [r["event"] for r in records] == ["Stop"] and reset


def test_transcripts_and_the_status_file_are_copied_where_the_readers_look(tmp_path: Path, sshd: Sshd) -> None:
    proj, remote_log = setup(tmp_path, sshd)
    config = proj.config
    bob, cora = config.agents
    # bob: a Claude transcript in its scratch HOME on the host, written an hour ago
    folder = remote_log / "homes" / "bob" / ".claude" / "projects" / claude_slug("/srv/review")
    folder.mkdir(parents=True)
    line = {"type": "assistant", "message": {"id": "m1", "usage": {"input_tokens": 5, "output_tokens": 7}}, "requestId": "r1"}
    (folder / "s1.jsonl").write_text(json.dumps(line) + "\n")
    hour_ago = time.time() - 3600
    os.utime(folder / "s1.jsonl", (hour_ago, hour_ago))
    # cora: Codex rollouts under the HOME its env names; only the one whose cwd is hers is hers
    sessions = tmp_path / "cora home" / ".codex" / "sessions" / "2026" / "12" / "06"
    sessions.mkdir(parents=True)
    meta = {"type": "session_meta", "payload": {"id": "x", "cwd": "/srv/codex work"}}
    other = {"type": "session_meta", "payload": {"id": "y", "cwd": "/elsewhere"}}
    (sessions / "rollout-1.jsonl").write_text(json.dumps(meta) + "\n")
    (sessions / "rollout-2.jsonl").write_text(json.dumps(other) + "\n")
    # bob's Claude session status, while its pid lives on the host
    status = remote_log / "homes" / "bob" / ".claude" / "sessions" / f"{os.getpid()}.json"
    status.parent.mkdir(parents=True)
    status.write_text('{"status": "busy"}')
    pids = {"bob": os.getpid()}
    mirror = proj.mirror
    assert mirror is not None
    assert mirror.refresh(config, pids=lambda a: pids.get(a.name)) == {}
    assert mirror.calls == 1  # one ssh call for the host, whatever it copied
    (bob_file,) = [p for _, p in transcript_files(config, bob)]
    assert bob_file.read_text() == json.dumps(line) + "\n"
    assert abs(bob_file.stat().st_mtime - hour_ago) < 1  # an earlier run's transcript still looks like one
    assert [p.name for _, p in transcript_files(config, cora)] == ["rollout-1.jsonl"]
    assert claude_status_file(agent_home(config, bob), os.getpid()) == "busy"
    # the process ended: its status file is no witness any more
    pids["bob"] = 2**22 + 12345
    status.rename(status.with_name(f"{pids['bob']}.json"))
    assert mirror.refresh(config, pids=lambda a: pids.get(a.name)) == {}
    assert claude_status_file(agent_home(config, bob), pids["bob"]) is None


def test_a_host_that_does_not_answer_is_reported_not_raised(tmp_path: Path, sshd: Sshd) -> None:
    proj, _ = setup(tmp_path, sshd)
    sshd.stop()
    failed = proj.refresh()
    assert list(failed) == ["b"] and "Connection refused" in failed["b"]
    # once an observation found it silent, the tick does not ask it again for files
    proj.status()
    assert proj.unreachable().keys() == {"b"}
    calls = proj.mirror.calls  # type: ignore[union-attr]
    assert proj.refresh() == {} and proj.mirror.calls == calls  # type: ignore[union-attr]
    sshd.start()
    proj.status()
    assert proj.refresh() == {} and proj.mirror.calls == calls + 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("remote", "local"), [
    ("/srv/x/a.jsonl", "hosts/b/root/srv/x/a.jsonl"),
    ("~/.claude/projects", "hosts/b/home/.claude/projects"),
    ("~", "hosts/b/home"),
])
def test_mirror_paths_round_trip(tmp_path: Path, remote: str, local: str) -> None:
    from agent_orchestrator.runtime.mirror import mirror_path, remote_path

    assert mirror_path(tmp_path, "b", remote) == tmp_path / local
    assert remote_path(tmp_path, "b", tmp_path / local) == remote
