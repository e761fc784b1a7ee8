"""Scratch HOMEs for rehearsals: each agent its own HOME, prepared so the CLI starts straight
into its input box with no first-run screens, and never touches the user's real ~/.claude*.

Claude Code 2.1.197 (REFERENCE): `$HOME/.claude.json` with `hasCompletedOnboarding`,
`bypassPermissionsModeAccepted`, `projects.<abs dir>.hasTrustDialogAccepted` (+
`hasCompletedProjectOnboarding`) and, for an API key in the environment,
`customApiKeyResponses.approved = [<last 20 chars of the key>]`; `$HOME/.claude/settings.json`
with `skipDangerousModePermissionPrompt`. Codex 0.169.0: `$CODEX_HOME/config.toml` with a model
provider pointing at `OPENAI_BASE_URL`, `approval_policy = "never"`, `sandbox_mode =
"danger-full-access"`, the project trusted and a model (`CODEX_MODEL`, default gpt-5-codex),
merged into what is there. Every HOME also gets a `.gitconfig` naming the
agent, so its commits say who made them.

The files are read and written through a `runtime.files.Files` (this machine by default), so a
scratch HOME on a `[[host]]` is prepared there the same way: one call to read, one to write.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path, PurePath

import tomli_w

from agent_orchestrator.runtime.files import Files, LocalFiles


def scratch_home(log_dir: Path, agent: str) -> Path:
    """Where agent `agent`'s scratch HOME lives."""
    return Path(log_dir) / "homes" / agent


def _merged_json(text: str | None, update: dict) -> str:
    try:
        data = json.loads(text) if text is not None else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return json.dumps(data, indent=1)


def prepare_home(home: PurePath, *, cli: str, agent: str, agent_dir: PurePath, env: dict[str, str], files: Files | None = None) -> dict[str, str]:
    """Prepare `home` for `cli` ("claude", "codex" or other) and return the env to add (HOME, …).

    `files` is the machine the HOME is on (default: this one, where `agent_dir` is resolved;
    a host's paths are taken as given). Idempotent: a restarted agent keeps its HOME (and so its
    transcripts and sessions). Raises OSError (HostUnreachable for a host that does not answer).
    """
    local = files is None or isinstance(files, LocalFiles)
    io: Files = files if files is not None else LocalFiles()
    gitconfig = str(home / ".gitconfig")
    claude_json, claude_settings = str(home / ".claude.json"), str(home / ".claude" / "settings.json")
    codex_config = str(home / ".codex" / "config.toml")
    wanted = [gitconfig, *([claude_json, claude_settings] if cli == "claude" else [codex_config] if cli == "codex" else [])]
    texts = io.read_texts(wanted)
    writes: dict[str, str] = {}
    if texts.get(gitconfig) is None:
        writes[gitconfig] = f"[user]\n\tname = {agent}\n\temail = {agent}@rehearsal.invalid\n[init]\n\tdefaultBranch = main\n"
    extra = {"HOME": str(home)}
    directory = str(Path(agent_dir).resolve()) if local else str(agent_dir)
    if cli == "claude":
        key = env.get("ANTHROPIC_API_KEY", "")
        update: dict = {
            "hasCompletedOnboarding": True,
            "bypassPermissionsModeAccepted": True,
            "hasAcknowledgedCostThreshold": True,
            "projects": {directory: {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
        }
        if key:
            update["customApiKeyResponses"] = {"approved": [key[-20:]], "rejected": []}
        writes[claude_json] = _merged_json(texts.get(claude_json), update)
        writes[claude_settings] = _merged_json(texts.get(claude_settings), {"skipDangerousModePermissionPrompt": True})
    elif cli == "codex":
        try:
            config = tomllib.loads(texts.get(codex_config) or "")  # keep what Codex added itself
        except tomllib.TOMLDecodeError:
            config = {}
        config.update({
            "model_provider": "rehearsal",
            "approval_policy": "never",
            "sandbox_mode": "danger-full-access",
            "model_providers": {"rehearsal": {
                "name": "rehearsal",
                "base_url": env.get("OPENAI_BASE_URL", "http://127.0.0.1:8765/v1"),
                "env_key": "OPENAI_API_KEY",
                "wire_api": "responses",
            }},
            "projects": {**config.get("projects", {}), directory: {"trust_level": "trusted"}},
            "tui": {**config.get("tui", {}), "screen_reader_detection_done": True},
            # Codex 0.169's default model sends its turns without tools; a scripted step needs
            # the exec_command tool offered, which gpt-5-codex requests do.
            "model": env.get("CODEX_MODEL") or "gpt-5-codex",
        })
        writes[codex_config] = tomli_w.dumps(config)
        extra["CODEX_HOME"] = str(home / ".codex")
    io.write_texts(writes)
    return extra
