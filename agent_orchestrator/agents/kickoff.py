"""Kickoff text of an agent: its own prompt, or for a loop agent the phase's rendered template."""

from __future__ import annotations

from pathlib import Path

from agent_orchestrator.config.schema import AgentConfig, Config, PhaseConfig


def render_phase_kickoff(config: Config, agent: AgentConfig, phase: PhaseConfig) -> str:
    """The `[loop].kickoff` template filled for `phase`, with the role file appended.

    Slots: {phase_id} {plan} {status} {role} {done_marker} {state_dir}; validation guarantees no
    other slot is used. `{plan}` is the plan's absolute path; `{status}` is relative to the repo.
    Raises OSError when the template or role file cannot be read.
    """
    loop = config.loop
    assert loop is not None and loop.kickoff is not None
    text = loop.kickoff.read_text(encoding="utf-8").format(
        phase_id=phase.id,
        plan=str(phase.plan),
        status=phase.status,
        role=agent.role or agent.name,
        done_marker=loop.done_marker,
        state_dir=loop.state_dir,
    )
    if loop.roles_dir is not None and agent.role:
        role_file = loop.roles_dir / f"{agent.role}.md"
        if role_file.is_file():
            text = text.rstrip("\n") + "\n\n" + role_file.read_text(encoding="utf-8")
    return text


def agent_kickoff(config: Config, agent: AgentConfig, phase_index: int = 0) -> str | None:
    """The text an agent starts with (None: start with no prompt).

    Loop agents get the kickoff of phase `phase_index` (None past the last phase); others their
    `prompt` or the contents of `prompt_file`. Raises OSError when a file cannot be read.
    """
    if agent.kind == "loop" and config.loop is not None:
        if 0 <= phase_index < len(config.loop.phases):
            return render_phase_kickoff(config, agent, config.loop.phases[phase_index])
        return None
    if agent.prompt_file is not None:
        return Path(agent.prompt_file).read_text(encoding="utf-8")
    return agent.prompt


def phase_model(config: Config, agent: AgentConfig, phase_index: int) -> str | None:
    """The agent's model in phase `phase_index`: the phase's `models[role]` override, else its own."""
    if agent.kind == "loop" and config.loop is not None and 0 <= phase_index < len(config.loop.phases):
        models = config.loop.phases[phase_index].models
        for key in (agent.role, agent.name):
            if key and key in models:
                return models[key]
    return agent.model
