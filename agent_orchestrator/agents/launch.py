"""Building an agent's launch command, and the screen detectors of a backend.

The presets themselves (claude, codex, demo) live in `config/presets.py` as raw tables. The
launch command is always an argument list: config and prompt text never pass through a shell.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from agent_orchestrator.config.schema import AgentConfig, BackendConfig
from agent_orchestrator.screen.patterns import PATTERNS, Dialog, ScreenPatterns


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
    config_path: Path | None = None,
) -> Launch:
    """The argument list that starts `agent` on `backend` with `kickoff`.

    `model` overrides the agent's model (per-phase overrides); `resume` adds the backend's resume
    flags when it supports them. For prompt_delivery = exec, `prompt_file` must be given: the
    kickoff is written there by the caller and `{prompt_file}` in the template names it;
    `{agent}` is the agent's name and `{config}` is `config_path` (the watcher preset uses both).

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
            "agent": agent.name or "",
            "config": str(config_path or ""),
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


_SLOT = re.compile(r"\{(bin|model|prompt|prompt_file|agent|config)\}")


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
