"""Backend presets (claude, codex, demo, watcher) as raw tables in the shape of a `[backend.<name>]` block.

A user block merges over a preset with the same code path (`merge_backend`), so a preset is just
a config the user did not have to write. Kept beside the config loader (which merges them) and
free of launch code, so loading a config never imports the runtime.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from agent_orchestrator.screen.patterns import CLAUDE, CODEX, ScreenPatterns


# Screen regexes come from screen_patterns (checked against Claude Code 2.1.197 and Codex 0.169.0
# captures): one source of truth for the presets and the detectors. Permission prompts are not
# auto-answered by a preset; a user who wants that adds the dialog to their backend block.
def _dialogs(patterns: ScreenPatterns) -> list[dict[str, Any]]:
    return [{"name": d.name, "match": d.match_re, "keys": list(d.keys)} for d in patterns.dialogs if d.keys and d.name != "permission"]


CLAUDE_PRESET: dict[str, Any] = {
    "bin": "claude",
    "flags": ["--dangerously-skip-permissions"],
    "model_flag": "--model",
    "prompt_delivery": "arg",
    "submit_key": "Enter",
    "process_name": ["claude"],
    "stall_idle": 600,
    "active_re": CLAUDE.active_re,
    "input_re": CLAUDE.input_re,
    "limit_re": CLAUDE.limit_re,
    "fatal_re": CLAUDE.fatal_re or "",
    "ready_re": r"^❯",
    "supports_resume": True,
    "resume_flags": ["--continue"],
    "dialogs": _dialogs(CLAUDE),
    "transcripts": {"path": "~/.claude/projects", "reader": "claude"},
    "screen": "claude",
}

CODEX_PRESET: dict[str, Any] = {
    "bin": "codex",
    "flags": ["--no-daemon"],
    "model_flag": "--model",
    "prompt_delivery": "arg",
    "submit_key": "Enter",
    "process_name": ["node", "codex"],
    "stall_idle": 600,
    "active_re": CODEX.active_re,
    "input_re": CODEX.input_re,
    "limit_re": CODEX.limit_re,
    "fatal_re": CODEX.fatal_re or "",
    "ready_re": r"^›",
    "supports_resume": False,
    "dialogs": _dialogs(CODEX),
    "transcripts": {"path": "~/.codex/sessions", "reader": "codex"},
    "screen": "codex",
}

# The demo backend is a dependency-free stand-in (agent_orchestrator/demo_agent.py) so that
# up/status/send/logs/down work on a machine with no agent CLI.
DEMO_PRESET: dict[str, Any] = {
    "bin": sys.executable,
    "flags": ["-m", "agent_orchestrator.agents.demo_agent"],
    "model_flag": "--model",
    "prompt_delivery": "arg",
    "submit_key": "Enter",
    "process_name": [Path(sys.executable).name, "python", "python3"],
    "stall_idle": 300,
    "active_re": r"^demo: working",
    "input_re": r"^demo>\s?(.*)$",
    "limit_re": r"^demo: usage limit",
    "fatal_re": r"^demo: fatal",
    "ready_re": r"^demo>",
    "supports_resume": False,
    "transcripts": {"path": "", "reader": "none"},
}

# A domain watcher hosted as an agent (agent_orchestrator/watchers): `agents watcher run <name>` in its
# own session, healed like any agent. It reads no prompt; {agent} and {config} name what it runs.
WATCHER_PRESET: dict[str, Any] = {
    "bin": sys.executable,
    "flags": [],
    "model_flag": "",
    "prompt_delivery": "exec",
    "exec_template": ["{bin}", "-m", "agent_orchestrator", "watcher", "run", "{agent}", "--config", "{config}"],
    "process_name": [Path(sys.executable).name, "python", "python3"],
    "stall_idle": 86400,
    "supports_resume": False,
    "transcripts": {"path": "", "reader": "none"},
}

PRESETS: dict[str, dict[str, Any]] = {"claude": CLAUDE_PRESET, "codex": CODEX_PRESET, "demo": DEMO_PRESET,
                                      "watcher": WATCHER_PRESET}


def merge_backend(base: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """A backend table: `base` (a preset or earlier block) overridden by `block`.

    Keys set in `block` replace the base's; `env` tables are merged key by key. `extends` itself
    is not carried over.
    """
    merged = copy.deepcopy(base)
    merged.pop("extends", None)
    for key, value in block.items():
        if key == "extends":
            continue
        if key == "env" and isinstance(value, dict) and isinstance(merged.get("env"), dict):
            merged["env"] = {**merged["env"], **value}
        else:
            merged[key] = copy.deepcopy(value)
    return merged
