"""Watchdog policies: pure functions `Tick -> Step(state, actions)`, one module per behaviour.

`watchdog.decide` runs them in order (requests, phases, handoff, usage_limits, heal, dialogs,
stall, wakes, redeliver, then tokens); `starts.on_start` is the one place that says what a
(re)start resets; `witness` folds the observation's screens into the state first.
"""
