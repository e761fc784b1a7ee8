"""Token budgets (signal tick): warn at `warn` of a budget, hold the loop agents at all of it.

`[watchdog.token_budget]` sets a budget for the run (`run`: every phase since the watchdog's
state began) and/or for each phase (`phase`), in tokens as the ledger counts them (the figures
come from the observation, `TokenView.run_total` / `phase_total`). Each scope ("run", "phase p1"):

- at `warn` × its budget (default 80%): one `budget` event, once per scope; `status` shows the
  figure from then on;
- at its budget: the enabled loop agents are held — `needs-human` with the figure, one event per
  agent — so nothing is delivered to them, nothing restarts or nudges them, and the phase machine
  does not advance (`policies.phases`) until the hold is released (agents with none, every
  enabled agent that writes transcripts);
- released when the budget is raised (or removed) above what was spent, when the phase it was
  for is no longer the current one, or by a person: `agents restart NAME` or `agents resume
  NAME` of a held agent releases the whole hold, and that scope is not held again at that budget.

Pure: the state in, the state and notes out.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, Note, Step, Tick
from agent_orchestrator.watchdog.state import BudgetState, WatchdogState


def scopes(tick: Tick) -> list[tuple[str, int, int]]:
    """(scope, tokens used, budget) of every budget in force this tick."""
    cfg = tick.config.watchdog.token_budget
    tokens = tick.tokens
    if cfg is None or tokens is None or not tick.config.watchdog.log_tokens:
        return []
    out = []
    if cfg.run is not None:
        out.append(("run", tokens.run_total, cfg.run))
    if cfg.phase is not None and tokens.open_phase is not None:
        out.append((f"phase {tokens.open_phase}", tokens.phase_total, cfg.phase))
    return out


def figure(scope: str, used: int, limit: int) -> str:
    """``phase p1 used 101,234 of 100,000 tokens (101%)``."""
    return f"{scope} used {used:,} of {limit:,} tokens ({100 * used / limit:.0f}%)"


def budget(tick: Tick) -> Step:
    """Warnings, a hold or its release for this tick's token figures."""
    state = tick.state
    found = scopes(tick)
    b = replace(state.budget, used={s: u for s, u, _ in found}, limits={s: lim for s, _, lim in found})
    actions: list[Action] = []
    warn = tick.config.watchdog.token_budget.warn if tick.config.watchdog.token_budget is not None else 1.0
    for scope, used, limit in found:
        if used >= warn * limit and scope not in b.warned:
            b = replace(b, warned=(*b.warned, scope))
            actions.append(Note("", "budget", f"token budget: {figure(scope, used, limit)}", {"scope": scope, "used": used, "limit": limit}))
    if b.held:
        state, b, released = _release(tick, state, b)
        actions += released
    if not b.held:
        for scope, used, limit in found:
            if used >= limit and f"{scope}={limit}" not in b.released:
                state, b, held = _hold(tick, state, b, scope, used, limit)
                actions += held
                break
    return Step(replace(state, budget=b), tuple(actions))


def _hold(tick: Tick, state: WatchdogState, b: BudgetState, scope: str, used: int, limit: int) -> tuple[WatchdogState, BudgetState, list[Action]]:
    text = f"token budget: {figure(scope, used, limit)}; raise [watchdog.token_budget] or `agents restart`/`resume` one of them to go on"
    agents = [a for a in tick.config.agents if a.kind == "loop" and a.enabled]
    if not agents:
        agents = [a for a in tick.config.agents if a.enabled and not tick.config.is_watcher(a)
                  and tick.config.backend_of(a).transcripts.reader != "none"]
    held: list[str] = []
    actions: list[Action] = []
    for agent in agents:
        if state.agent(agent.name).needs_human:
            continue  # already held for another reason (a restart storm): that one stands
        state = state.update_agent(agent.name, needs_human=text)
        held.append(agent.name)
        actions.append(Note(agent.name, "needs-human", text, {"budget": scope, "used": used, "limit": limit}))
    b = replace(b, held=scope, held_limit=limit, held_agents=tuple(held), hold=text)
    return state, b, actions


def _release(tick: Tick, state: WatchdogState, b: BudgetState) -> tuple[WatchdogState, BudgetState, list[Action]]:
    by_hand = sorted(n for n in b.held_agents if state.agent(n).needs_human != b.hold)
    limit = b.limits.get(b.held)
    if by_hand:
        why = f"released by hand ({', '.join(by_hand)})"
        b = replace(b, released=(*b.released, f"{b.held}={b.held_limit}"))
    elif limit is None:
        why = f"no {b.held} budget in force any more"
    elif b.used.get(b.held, 0) < limit:
        why = f"the budget was raised: {figure(b.held, b.used.get(b.held, 0), limit)}"
    else:
        return state, b, []
    for name in b.held_agents:
        if state.agent(name).needs_human == b.hold:
            state = state.update_agent(name, needs_human="")
    note = Note("", "budget-released", f"token budget hold on {b.held} released: {why}", {"scope": b.held})
    return state, replace(b, held="", held_limit=0, held_agents=(), hold=""), [note]


def status_lines(b: BudgetState, warn: float) -> list[str]:
    """What `status` says about token budgets, from the last tick's `BudgetState`: a line per
    scope at or past `warn` of its budget, and the hold with how to release it ([] otherwise)."""
    out = []
    for scope, limit in b.limits.items():
        used = b.used.get(scope, 0)
        if scope == b.held:
            who = ", ".join(b.held_agents) or "no agent (all were held already)"
            key = "run" if scope == "run" else "phase"
            first = b.held_agents[0] if b.held_agents else "NAME"
            out.append(f"token budget: {figure(scope, used, limit)} — holding {who} (needs-human); raise "
                       f"[watchdog.token_budget] {key} or `agents resume {first}` to go on")
        elif used >= warn * limit:
            out.append(f"token budget: {figure(scope, used, limit)} (warns at {warn:.0%})")
    return out
