"""The hook recorder: the packaged script and the wiring into Claude Code and Codex.

The script is run for real (bash, no CLI): one line per event, nothing on stdout, exit 0 even
when its folder is missing, whole lines under many concurrent writers and for big payloads.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent_orchestrator.agents import hooks
from agent_orchestrator.transcripts.tail import tail
from agent_orchestrator.truth.hook_events import read_events


def run_hook(log: Path | None, event: str, payload: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"]}
    if log is not None:
        env["AO_HOOK_LOG"] = str(log)
    return subprocess.run([str(hooks.SCRIPT), event], input=payload, capture_output=True, text=True, env=env, timeout=30, check=False)


def test_one_line_per_event_and_nothing_on_stdout(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    payload = json.dumps({"session_id": "s", "prompt": 'quotes " and \\ back\nslash', "hook_event_name": "UserPromptSubmit"})
    done = run_hook(log, "UserPromptSubmit", payload)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    records, offset, _ = tail(log, 0)
    (event,) = read_events(records)
    assert event.event == "UserPromptSubmit" and event.data["prompt"] == 'quotes " and \\ back\nslash'
    assert abs(event.ts - __import__("time").time()) < 60 and offset == log.stat().st_size


def test_the_watchdog_being_down_or_the_folder_missing_never_fails_the_cli(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "a.jsonl"
    for log in (missing, None):
        done = run_hook(log, "Stop", "{}")
        assert (done.returncode, done.stdout) == (0, "")
    assert not missing.exists()
    assert run_hook(tmp_path / "b.jsonl", "Stop", "").returncode == 0  # an empty payload is recorded as null
    assert read_events(tail(tmp_path / "b.jsonl", 0)[0])[0].data == {}


def test_concurrent_writers_never_interleave_even_big_lines(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    big = "x" * 100_000  # a tool input with a whole file in it: bash writes it in several chunks

    def one(i: int) -> int:
        body = big if i % 4 == 0 else "small"
        return run_hook(log, "PreToolUse", json.dumps({"i": i, "tool_input": {"content": body}})).returncode

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(48))) == {0}
    lines = log.read_text().splitlines()
    assert len(lines) == 48
    assert sorted(json.loads(line)["data"]["i"] for line in lines) == list(range(48))


def test_a_megabyte_payload_is_recorded_within_the_clis_hook_timeout(tmp_path: Path) -> None:
    # Claude's PostToolUse of an Edit carries the whole original file; the CLIs send the JSON
    # without a trailing newline. Stripping one with ${data%$'\n'} tried every suffix (quadratic:
    # ~18 s for 1 MB), so the CLI killed the hook at its timeout and the event was lost.
    log = tmp_path / "a.jsonl"
    payload = json.dumps({"tool_name": "Edit", "tool_response": {"originalFile": "y" * 1_000_000}})
    env = {"PATH": os.environ["PATH"], "AO_HOOK_LOG": str(log)}
    done = subprocess.run([str(hooks.SCRIPT), "PostToolUse"], input=payload, capture_output=True, text=True, env=env,
                          timeout=hooks.HOOK_TIMEOUT, check=False)
    assert done.returncode == 0
    (event,) = read_events(tail(log, 0)[0])
    assert len(event.data["tool_response"]["originalFile"]) == 1_000_000


def test_a_torn_last_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    run_hook(log, "Stop", "{}")
    with log.open("a") as fh:
        fh.write('{"ts": 1, "event": "Stop", "da')  # a writer killed mid-line
    records, offset, _ = tail(log, 0)
    assert len(records) == 1
    with log.open("a") as fh:
        fh.write('ta": {}}\n')
    more, _, _ = tail(log, offset)
    assert [r["event"] for r in more] == ["Stop"]


def test_claude_settings_layer_runs_the_script_without_a_shell(tmp_path: Path) -> None:
    path = hooks.claude_settings(tmp_path, "builder")
    data = json.loads(path.read_text())
    assert set(data) == {"hooks"} and set(data["hooks"]) == set(hooks.CLAUDE_EVENTS)
    (group,) = data["hooks"]["StopFailure"]
    assert group["hooks"] == [{"type": "command", "command": str(hooks.SCRIPT), "args": ["StopFailure"], "timeout": 5}]
    args, env = hooks.hook_launch("claude", tmp_path, "builder", {})
    assert args == ["--settings", str(path)]
    assert env == {"AO_HOOK": str(hooks.SCRIPT), "AO_HOOK_LOG": str(tmp_path / "hooks" / "builder.jsonl")}


def test_codex_hooks_and_their_trust_are_appended_once_without_rewriting_the_users_file(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    mine = '# my settings\nmodel = "gpt-5-codex"\n\n[projects."/w"]\ntrust_level = "trusted"'
    (home / "config.toml").write_text(mine)
    args, _env = hooks.hook_launch("codex", tmp_path, "coder", {"CODEX_HOME": str(home)})
    assert args[0::2] == ["-c"] * len(hooks.CODEX_EVENTS)
    assert 'hooks.Stop=[{hooks=[{type="command",command="\\"$AO_HOOK\\" Stop",timeout=5}]}]' in args
    text = (home / "config.toml").read_text()
    assert text.startswith(mine)
    state = tomllib.loads(text)["hooks"]["state"]
    assert state["/<session-flags>/config.toml:user_prompt_submit:0:0"]["trusted_hash"] == hooks.codex_trust_hash("UserPromptSubmit")
    assert len(state) == len(hooks.CODEX_EVENTS)
    assert hooks.trust_codex_hooks(home) == []  # already trusted: nothing appended again
    assert (home / "config.toml").read_text() == text


@pytest.mark.parametrize("content", ["hooks = { state = {} }\n", "this is [not toml\n"])
def test_codex_trust_never_breaks_a_file_it_cannot_extend(tmp_path: Path, content: str) -> None:
    (tmp_path / "config.toml").write_text(content)
    assert hooks.trust_codex_hooks(tmp_path) == []
    assert (tmp_path / "config.toml").read_text() == content


def test_the_codex_trust_hash_is_what_codex_computes() -> None:
    # With this hash in config.toml, Codex 0.171.0 started with no review dialog and ran the hook.
    assert hooks.codex_trust_hash("Stop") == "sha256:b326b864b105a5f2d4a825dedf34ac436a2cd891ad49a0b1b1334084a11e7462"


def test_our_own_stale_trust_is_corrected_in_place(tmp_path: Path) -> None:
    key = f"{hooks.CODEX_SESSION_FLAGS}:stop:0:0"
    (tmp_path / "config.toml").write_text(f'model = "x"  # mine\n\n[hooks.state."{key}"]\ntrusted_hash = "sha256:old"\n')
    assert "Stop" in hooks.trust_codex_hooks(tmp_path)
    text = (tmp_path / "config.toml").read_text()
    assert text.startswith('model = "x"  # mine\n') and "sha256:old" not in text
    assert tomllib.loads(text)["hooks"]["state"][key]["trusted_hash"] == hooks.codex_trust_hash("Stop")
