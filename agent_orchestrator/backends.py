"""Backend presets (claude, codex, demo) and building an agent's launch command.

A preset is a raw table in the same shape as a `[backend.<name>]` block, so a user block merges
over it with the same code path (`merge_backend`). The launch command is always an argument
list: config and prompt text never pass through a shell.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent_orchestrator.config.schema import AgentConfig, BackendConfig
from agent_orchestrator.screen_patterns import CLAUDE, CODEX, PATTERNS, Dialog, ScreenPatterns

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
    "flags": ["-m", "agent_orchestrator.demo_agent"],
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

PRESETS: dict[str, dict[str, Any]] = {"claude": CLAUDE_PRESET, "codex": CODEX_PRESET, "demo": DEMO_PRESET}


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


@dataclass
class Launch:
    """How to start one agent: `argv` (no shell), extra `env`, working directory `cwd`.

    `paste_prompt` is the kickoff to deliver by paste after the CLI is ready (prompt_delivery =
    paste), else None.
    """

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    paste_prompt: str | None = None


def build_launch(
    agent: AgentConfig,
    backend: BackendConfig,
    kickoff: str | None,
    prompt_file: Path | None = None,
    *,
    model: str | None = None,
    resume: bool = False,
) -> Launch:
    """The argument list that starts `agent` on `backend` with `kickoff`.

    `model` overrides the agent's model (per-phase overrides); `resume` adds the backend's resume
    flags when it supports them. For prompt_delivery = exec, `prompt_file` must be given: the
    kickoff is written there by the caller and `{prompt_file}` in the template names it.

    Raises ValueError when exec delivery needs a prompt file that was not given.
    """
    model = model if model is not None else agent.model
    env = {**backend.env, **agent.env}
    cwd = agent.dir if agent.dir is not None else Path.cwd()
    if backend.prompt_delivery == "exec":
        if prompt_file is None and any("{prompt_file}" in a for a in backend.exec_template):
            raise ValueError(f"backend {backend.name!r}: exec delivery needs a prompt file")
        slots = {
            "bin": backend.bin,
            "model": model or "",
            "prompt": kickoff or "",
            "prompt_file": str(prompt_file or ""),
        }
        argv = [_fill(part, slots) for part in backend.exec_template] or [backend.bin]
        return Launch(argv=argv, cwd=cwd, env=env)
    argv = [backend.bin, *backend.flags]
    if resume and backend.supports_resume:
        argv += backend.resume_flags
    if model and backend.model_flag:
        argv += [backend.model_flag, model]
    if backend.prompt_delivery == "arg":
        if kickoff:
            argv.append(kickoff)
        return Launch(argv=argv, cwd=cwd, env=env)
    return Launch(argv=argv, cwd=cwd, env=env, paste_prompt=kickoff or None)


_SLOT = re.compile(r"\{(bin|model|prompt|prompt_file)\}")


def _fill(part: str, slots: dict[str, str]) -> str:
    # One pass, not str.format: prompt text may itself contain braces or slot names.
    return _SLOT.sub(lambda m: slots[m.group(1)], part)


# A backend without a built-in screen set: only its own regexes apply. "(?!)" never matches (an
# empty regex would match every line).
_NEVER = "(?!)"
_GENERIC = ScreenPatterns(
    active_re=_NEVER, input_re=_NEVER, placeholder_re=None, retry_re=_NEVER, error_re=_NEVER, limit_re=_NEVER,
    fatal_re=None, done_re=_NEVER, dialogs=(),
)


@lru_cache(maxsize=64)
def _patterns(screen: str, active_re: str, input_re: str, limit_re: str, fatal_re: str,
              dialogs: tuple[tuple[str, str, tuple[str, ...]], ...]) -> ScreenPatterns:
    base = PATTERNS.get(screen, _GENERIC)
    return dataclasses.replace(
        base,
        active_re=active_re or base.active_re,
        input_re=input_re or base.input_re,
        limit_re=limit_re or base.limit_re,
        fatal_re=fatal_re or base.fatal_re,
        dialogs=tuple(Dialog(name or match, match, keys) for name, match, keys in dialogs),
    )


def screen_patterns(backend: BackendConfig) -> ScreenPatterns:
    """The detector patterns for `backend`: its built-in `screen` set with its own regexes and
    its configured `dialogs` (what it answers) over it."""
    dialogs = tuple((d.name, d.match, tuple(d.keys)) for d in backend.dialogs)
    return _patterns(backend.screen, backend.active_re, backend.input_re, backend.limit_re, backend.fatal_re, dialogs)
