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

# The claude and codex presets set no screen regexes and no dialogs: with `screen` set, those come
# from the screen table of the CLI version (agent_orchestrator/data/screens, picked by
# `screen_version`; see screen.patterns.screen_patterns), one source of truth for the presets and
# the detectors. A backend's own active_re/input_re/limit_re/fatal_re and `screen_patterns`
# override the table; its `dialogs` are laid over the table's by name. Permission prompts are
# detected but not auto-answered by a preset; a user who wants that adds a dialog named
# "permission" to their backend block (`{name = "permission", choose = "^Yes$"}`).

CLAUDE_PRESET: dict[str, Any] = {
    "bin": "claude",
    "flags": ["--dangerously-skip-permissions"],
    "model_flag": "--model",
    "prompt_delivery": "arg",
    "submit_key": "Enter",
    "process_name": ["claude"],
    "stall_idle": 600,
    "ready_re": r"^❯",
    "supports_resume": True,
    "resume_flags": ["--continue"],
    "transcripts": {"path": "~/.claude/projects", "reader": "claude"},
    "screen": "claude",
    "hooks": True,
    "queue_key": "Enter",  # Claude Code queues what is submitted while a turn runs
}

CODEX_PRESET: dict[str, Any] = {
    "bin": "codex",
    "flags": ["--no-daemon"],
    "model_flag": "--model",
    "prompt_delivery": "arg",
    "submit_key": "Enter",
    "process_name": ["node", "codex"],
    "stall_idle": 600,
    "ready_re": r"^›",
    "supports_resume": False,
    "transcripts": {"path": "~/.codex/sessions", "reader": "codex"},
    "screen": "codex",
    "hooks": True,
    "queue_key": "Tab",  # Enter would steer the running Codex turn (0.169 and 0.171); Tab queues
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


_MERGED = ("env", "screen_patterns")


def merge_backend(base: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """A backend table: `base` (a preset or earlier block) overridden by `block`.

    Keys set in `block` replace the base's; `env` and `screen_patterns` tables are merged key by
    key. `extends` itself is not carried over.
    """
    merged = copy.deepcopy(base)
    merged.pop("extends", None)
    for key, value in block.items():
        if key == "extends":
            continue
        if key in _MERGED and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = copy.deepcopy(value)
    return merged
