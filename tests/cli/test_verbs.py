"""The `agents` verbs through typer's CliRunner, against real tmux on a private socket."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from tests.support.tmux import wait_until, write_config

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

TEAM = """
[[agent]]
name = "alice"
prompt = "You are alice."

[[agent]]
name = "bob"
watch = "heal+stall"
model = "demo-2"

[[service]]
name = "svc"
cmd = ["python3", "-c", "import time; time.sleep(600)"]
"""


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


@pytest.fixture
def config(tmp_path: Path, socket: str) -> str:
    return str(write_config(tmp_path, socket, TEAM))


def test_normalize_argv_moves_config_anywhere() -> None:
    assert normalize_argv(["status", "--config", "x.toml", "--json"]) == ["--config", "x.toml", "status", "--json"]
    assert normalize_argv(["send", "a", "-c", "y.toml", "hi"]) == ["--config", "y.toml", "send", "a", "hi"]
    assert normalize_argv(["send", "a", "--", "--config"]) == ["send", "a", "--", "--config"]


def test_validate_ok_and_summary(config: str) -> None:
    result = agents("validate", "--config", config)
    assert result.exit_code == 0
    assert result.output.strip() == f"ok: {config}: prefix 't-': 2 agents (2 persistent); 1 service; backends: demo"


def test_misspelt_key_is_one_line_and_exit_2(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "a"\nwach = "heal"\n')
    result = agents("--config", str(path), "validate")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f'{path}: agent[0].wach: unknown key; did you mean "watch"?']


def test_every_verb_validates_first(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "a"\nkind = "daemon"\n')
    for verb in (["status"], ["up"], ["down"], ["send", "a", "hi"], ["logs", "a"]):
        result = agents(*verb, "--config", str(path))
        assert result.exit_code == 2, verb
        assert 'agent[0].kind: "daemon" is not one of' in result.output


def test_missing_config_file(tmp_path: Path) -> None:
    result = agents("status", "--config", str(tmp_path / "none.toml"))
    assert result.exit_code == 2 and "no such file" in result.output


def test_status_when_not_up_shows_stopped_and_starts_nothing(config: str, socket: str) -> None:
    result = agents("status", "--config", config, "--json")
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert [(a["name"], a["state"]) for a in payload["agents"]] == [("alice", "stopped"), ("bob", "stopped"), ("svc", "stopped"), ("watchdog", "stopped")]
    no_server = subprocess.run(["tmux", "-L", socket, "list-sessions"], capture_output=True)
    assert no_server.returncode != 0


def test_up_status_send_logs_down(config: str) -> None:
    up = agents("up", "--config", config)
    assert up.exit_code == 0, up.output
    assert up.output.count("started") == 4  # alice, bob, svc and the watchdog
    again = agents("up", "--config", config)
    assert again.exit_code == 0 and "started" not in again.output and again.output.count("left alone") == 4

    status = json.loads(agents("status", "--json", "--config", config).output)
    rows = {a["name"]: a for a in status["agents"]}
    assert rows["bob"] == {**rows["bob"], "kind": "persistent", "backend": "demo", "model": "demo-2", "watch": "heal+stall", "session": "t-bob", "state": "running"}
    table = agents("status", "--config", config).output
    assert "t-alice" in table and "running" in table

    assert wait_until(lambda: "demo>" in agents("logs", "alice", "--config", config).output)
    sent = agents("send", "alice", "ping from the cli", "--config", config)
    assert sent.exit_code == 0, sent.output
    assert wait_until(lambda: "echo: ping from the cli" in agents("logs", "alice", "-n", "5", "--config", config).output)

    assert rows["watchdog"]["state"] == "running"

    down = agents("down", "--config", config)
    assert down.exit_code == 0 and down.output.count("stopped") == 4
    assert agents("down", "--config", config).output.count("absent") == 4


def test_send_from_file_and_unknown_names(config: str, tmp_path: Path) -> None:
    agents("up", "alice", "--config", config)
    assert wait_until(lambda: "demo>" in agents("logs", "alice", "--config", config).output)
    msg = tmp_path / "msg.txt"
    msg.write_text("first line\nsecond line\n")
    assert agents("send", "alice", "-f", str(msg), "--config", config).exit_code == 0
    assert wait_until(lambda: "echo: second line" in agents("logs", "alice", "--config", config).output)

    unknown = agents("send", "carol", "hi", "--config", config)
    assert unknown.exit_code == 2 and "unknown agent or service: carol (known: alice, bob, svc)" in unknown.output
    assert agents("up", "carol", "--config", config).exit_code == 2
    assert agents("send", "alice", "--config", config).exit_code == 2  # no text and no file


def test_send_to_a_stopped_agent_fails_with_exit_1(config: str) -> None:
    result = agents("send", "bob", "hello", "--config", config)
    assert result.exit_code == 1
    assert "bob: not delivered: session t-bob is not running" in result.output


def test_attach_to_a_stopped_agent_fails(config: str) -> None:
    result = agents("attach", "alice", "--config", config)
    assert result.exit_code == 1 and "alice is not running" in result.output


def test_init_scaffolds_a_valid_project_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    result = agents("init", str(target))
    assert result.exit_code == 0, result.output
    for name in ("agents.toml", "prompts/kickoff.md", "prompts/builder.md", "prompts/adversary.md", "plans/p1.md"):
        assert (target / name).is_file(), name
    config = target / "agents.toml"
    # The file validates; what the machine still lacks is named, one line each (the loop's clones, the CLI).
    missing = agents("validate", "--config", str(config))
    assert missing.exit_code == 2
    assert [line.split(": ")[1] for line in missing.output.splitlines() if line.startswith(str(config))][:3] == \
        ["agent[0].dir", "agent[1].dir", "loop.repo"], missing.output
    (target / "work").mkdir()
    (target / "review").mkdir()
    ready = agents("validate", "--config", str(config))
    if shutil.which("claude"):
        assert ready.exit_code == 0, ready.output
    else:
        assert ready.exit_code == 2 and ready.output.splitlines() == [
            f'{config}: backend.claude.bin: "claude" not found on PATH (install it, or give bin a full path) (used by builder, adversary)']
    prefix = (target / "agents.toml").read_text().split('session_prefix = "')[1].split('"')[0]
    assert prefix.startswith("proj-") and len(prefix) == len("proj-") + 5
    before = (target / "agents.toml").read_text()
    again = agents("init", str(target))
    assert again.exit_code == 2 and "exists already" in again.output
    assert (target / "agents.toml").read_text() == before


def test_launcher_runs_from_a_checkout() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "agents.py"), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "validate" in result.stdout and "send" in result.stdout


def test_readme_config_reference_is_current() -> None:
    from agent_orchestrator.config.reference import reference

    assert reference() in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README's config reference is stale: regenerate it with python -m agent_orchestrator.config.reference --write README.md"
    )


def test_selftest_over_bundled_and_given_captures(tmp_path: Path) -> None:
    bundled = agents("selftest")
    assert bundled.exit_code == 0 and bundled.output.strip().endswith("101 passed, 0 failed")
    src = ROOT / "agent_orchestrator" / "data" / "captures"
    for suffix in (".txt", ".json"):
        (tmp_path / f"claude-busy-1{suffix}").write_bytes((src / f"claude-busy-1{suffix}").read_bytes())
    label = json.loads((tmp_path / "claude-busy-1.json").read_text())
    label["state"] = "idle"  # a wrong label: the detector must disagree
    (tmp_path / "claude-busy-1.json").write_text(json.dumps(label))
    mislabelled = agents("selftest", "--captures", str(tmp_path))
    assert mislabelled.exit_code == 1
    assert "FAIL claude-busy-1 (claude: idle) — got busy" in mislabelled.output
    assert mislabelled.output.strip().endswith("0 passed, 1 failed")
