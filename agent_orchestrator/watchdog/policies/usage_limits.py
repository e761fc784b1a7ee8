"""Usage limits (signal tick): wait out a limit instead of rebooting into it.

A `limit_re` banner on screen opens a window: quiet (no heal, no stall reboot, no wake) until the
parsed reset time + `limit_reset_slack`, then one probe message. If the banner comes back the
window re-arms from the new reset time; an unparseable banner probes every
`limit_probe_fallback`. A reset time already in the past is stale: the agent is probed now. A
probe is never sent while the previous probe's text still sits in the input line.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.watchdog.model import Action, Note, Send, Step, Tick
from agent_orchestrator.watchdog.state import LimitWindow

PROBE = "The usage limit should have reset. Please continue where you left off."


def _until(tick: Tick, reset: float | None) -> float:
    wd = tick.config.watchdog
    if reset is None:
        return tick.now + wd.limit_probe_fallback
    if reset <= tick.now:
        return tick.now  # stale banner: probe at once
    return reset + wd.limit_reset_slack


def usage_limits(tick: Tick) -> Step:
    """Open, keep, probe and close usage-limit windows."""
    state = tick.state
    actions: list[Action] = []
    wd = tick.config.watchdog
    for name, view in tick.views.items():
        st = state.agent(name)
        facts = view.facts
        window = st.limit
        if window is None:
            if facts is None or not facts.limit_banner or not view.alive or view.busy:
                continue  # a working agent is not limited, whatever old banner is still on screen
            if facts.limit_banner == st.last_limit_banner:
                continue  # the banner of a window already waited out, still on screen
            opened = LimitWindow(facts.limit_banner, facts.limit_reset, _until(tick, facts.limit_reset), tick.now)
            state = state.with_agent(name, replace(st, limit=opened))
            actions.append(Note(name, "usage-limit", facts.limit_banner,
                                {"reset_at": facts.limit_reset, "quiet_until": opened.until}))
            continue
        if not view.alive:
            if tick.now >= window.until:
                # Over, and nothing to probe: heal may bring the agent back now.
                state = state.with_agent(name, replace(st, limit=None))
                actions.append(Note(name, "usage-limit-over", "the window is over; the agent is not running"))
            continue
        if window.probe_sent_at is not None:
            # The verdict on the probe needs a screen captured after it was sent.
            if facts is None or facts.captured_at <= window.probe_sent_at:
                continue
            if view.busy or not facts.limit_banner:
                state = state.with_agent(name, replace(st, last_limit_banner=window.banner, limit=None, idle_since=tick.now))
                actions.append(Note(name, "usage-limit-over", "the agent works again after the probe"))
                continue
            # The banner came back: re-arm from its time if it is still ahead, else fall back.
            reset = facts.limit_reset
            until = reset + wd.limit_reset_slack if reset is not None and reset > tick.now else tick.now + wd.limit_probe_fallback
            rearmed = replace(window, banner=facts.limit_banner, reset_at=reset, until=until, probe_sent_at=None)
            state = state.with_agent(name, replace(st, limit=rearmed))
            actions.append(Note(name, "usage-limit-rearmed", facts.limit_banner,
                                {"reset_at": facts.limit_reset, "quiet_until": until}))
            continue
        if tick.now < window.until:
            continue
        if facts is not None and window.probe_text and facts.input and window.probe_text.startswith(facts.input[:20]):
            continue  # the previous probe still sits unsubmitted: do not stack another
        state = state.with_agent(name, replace(st, limit=replace(window, probe_sent_at=tick.now, probe_text=PROBE)))
        actions.append(Send(name, PROBE, "probe", f"usage limit window over ({window.banner})"))
    return Step(state, tuple(actions))
