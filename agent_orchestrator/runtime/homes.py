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
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import tomli_w


def scratch_home(log_dir: Path, agent: str) -> Path:
    """Where agent `agent`'s scratch HOME lives."""
    return Path(log_dir) / "homes" / agent


def _merge_json(path: Path, update: dict) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def prepare_home(home: Path, *, cli: str, agent: str, agent_dir: Path, env: dict[str, str]) -> dict[str, str]:
    """Prepare `home` for `cli` ("claude", "codex" or other) and return the env to add (HOME, …).

    Idempotent: a restarted agent keeps its HOME (and so its transcripts and sessions).
    """
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text(f"[user]\n\tname = {agent}\n\temail = {agent}@rehearsal.invalid\n[init]\n\tdefaultBranch = main\n",
                             encoding="utf-8")
    extra = {"HOME": str(home)}
    directory = str(agent_dir.resolve())
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
        _merge_json(home / ".claude.json", update)
        _merge_json(home / ".claude" / "settings.json", {"skipDangerousModePermissionPrompt": True})
    elif cli == "codex":
        codex_home = home / ".codex"
        codex_home.mkdir(parents=True, exist_ok=True)
        path = codex_home / "config.toml"
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))  # keep what Codex added itself
        except (OSError, tomllib.TOMLDecodeError):
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
        path.write_text(tomli_w.dumps(config), encoding="utf-8")
        extra["CODEX_HOME"] = str(codex_home)
    return extra
