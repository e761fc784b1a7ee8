"""Helpers for tests that run `tests/support/fake_agent_cli.py` as an agent in real tmux.

`FAKE_BACKEND` is an agents.toml snippet defining `[backend.fake]`; `fake_agent_block` adds an
agent on it whose control file is passed through its env (`FAKE_AGENT_CONTROL`), so one backend
serves many agents. `set_mode` steers a running agent without typing into it; `inbox` and
`mode_log` read what it received and which modes it went through.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from agent_orchestrator.screen.patterns import ScreenPatterns

FAKE_AGENT = Path(__file__).resolve().with_name("fake_agent_cli.py")

# tmux names the pane's foreground process by its argv[0] basename: the interpreter, which is
# "python"/"python3" (venv symlinks) or a versioned name, depending on how it was started.
PROCESS_NAMES = sorted({"python", "python3", Path(sys.executable).name})

ACTIVE_RE = "esc to interrupt"
INPUT_RE = r"^fake>\s?(.*)$"
LIMIT_RE = "You've hit your .*limit"
FATAL_RE = "API Error: Invalid API key"
READY_RE = "^fake>"


def _toml_str(value: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(value)


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


# "--" ends fake_agent's options, so a kickoff that starts with "-" stays a kickoff; the model
# flag is off because it would land after "--".
FAKE_BACKEND = f"""
[backend.fake]
bin = {_toml_str(sys.executable)}
flags = {_toml_list([str(FAKE_AGENT), "--"])}
model_flag = ""
process_name = {_toml_list(PROCESS_NAMES)}
stall_idle = 3
startup_timeout = 10
active_re = {_toml_str(ACTIVE_RE)}
input_re = {_toml_str(INPUT_RE)}
limit_re = {_toml_str(LIMIT_RE)}
fatal_re = {_toml_str(FATAL_RE)}
ready_re = {_toml_str(READY_RE)}
"""

# Detector patterns for the fake screen (for `screen.waiting_until` / `screen.classify`): the
# `backend.fake` block alone has no done_re, and `✻ Worked for Ns` ends every busy spell.
FAKE_PATTERNS = ScreenPatterns(
    active_re=ACTIVE_RE, input_re=INPUT_RE, placeholder_re=None, retry_re=r"(?!)",
    error_re=r"^API Error\b", limit_re=LIMIT_RE, fatal_re=FATAL_RE,
    done_re=r"^✻ Worked for \d+s", dialogs=(),
)


def fake_agent_block(name: str, control: Path, prompt: str | None = None, **extra: str) -> str:
    """An `[[agent]]` block on the fake backend whose control file is `control`."""
    lines = ["[[agent]]", f"name = {_toml_str(name)}", 'backend = "fake"']
    if prompt is not None:
        lines.append(f"prompt = {_toml_str(prompt)}")
    lines += [f"{key} = {_toml_str(value)}" for key, value in extra.items()]
    env = {"FAKE_AGENT_CONTROL": str(control), "FAKE_AGENT_NAME": name}
    lines.append("env = {" + ", ".join(f"{k} = {_toml_str(v)}" for k, v in env.items()) + "}")
    return "\n" + "\n".join(lines) + "\n"


def set_mode(control: Path, mode: str, **kw: object) -> None:
    """Write `{"mode": mode, **kw}` to the control file atomically (rename over it).

    A `seq` stamp makes every write a change the agent applies, even when it repeats the
    previous mode (e.g. two `waiting` replies in a row).
    """
    payload = {"mode": mode, **kw, "seq": time.time_ns()}
    control.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=control.parent, prefix=".fake-control-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, control)


def _jsonl(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def inbox(control: Path) -> list[dict]:
    """Every message the agent received: `{"ts": epoch, "text": ...}`, oldest first."""
    return _jsonl(Path(str(control) + ".inbox.jsonl"))


def mode_log(control: Path) -> list[dict]:
    """Every mode change: `{"ts", "pid", "mode", "source", "params"}`, oldest first."""
    return _jsonl(Path(str(control) + ".log"))
