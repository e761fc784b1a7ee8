"""Building an agent's launch command.

The presets themselves (claude, codex, demo) live in `config/presets.py` as raw tables. The
launch command is always an argument list: config and prompt text never pass through a shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agent_orchestrator.config.schema import AgentConfig, BackendConfig


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
