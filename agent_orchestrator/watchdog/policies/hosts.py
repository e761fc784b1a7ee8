"""Hosts (every tick): say when a `[[host]]` stops answering and when it is back.

The observer leaves the agents and services of a host that did not answer out of the tick
altogether (watchdog/observe.py): no view, so no heal, stall, wake, dialog answer or delivery acts
on them — their messages wait in their outboxes. This policy only keeps the record: a
`host-unreachable` note the first tick a host is silent (with the agents it holds), a
`host-reachable` note the first tick it answers again (with how long it was away). The state
remembers since when (`WatchdogState.hosts`), so a restarted watchdog does not say it twice.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, Note, Step, Tick


def units_on(tick: Tick, host: str) -> list[str]:
    """The agents and services configured on `host`, in config order."""
    config = tick.config
    return [a.name for a in config.agents if a.host == host] + [s.name for s in config.services if s.host == host]


def hosts(tick: Tick) -> Step:
    """Notes for hosts that stopped or resumed answering; the state's record of them."""
    state = tick.state
    down = dict(state.hosts)
    actions: list[Action] = []
    for host, reason in sorted(tick.unreachable.items()):
        if host in down:
            continue
        down[host] = tick.now
        names = units_on(tick, host)
        actions.append(Note("", "host-unreachable", f"host {host} does not answer ({reason}); its agents are left as they are: "
                            f"{', '.join(names) or 'none'}", {"host": host, "agents": names}))
    for host, since in sorted(state.hosts.items()):
        if host in tick.unreachable:
            continue
        del down[host]
        if tick.config.host(host) is None:
            continue  # no longer configured: nothing to report back
        away = tick.now - since
        actions.append(Note("", "host-reachable", f"host {host} answers again after {away:.0f}s", {"host": host, "away_s": round(away, 1)}))
    if down == dict(state.hosts):
        return Step(state, tuple(actions))
    return Step(replace(state, hosts=down), tuple(actions))
