"""Domain watchers (DESIGN §8): small periodic programs that flag stuck work items.

`scaffold` is the one module every watcher consumes (staleness rule, per-episode decision ids, the
idempotent decision ledger, the tick loop). Each built-in owns only its drain, its vocabulary and
its namespace: `claims`, `phases`, `inboxes`, `held`, `issue_runs`; `user` adapts a user's
`module:factory` or command. `host` runs one watcher agent (`agents watch NAME`) in its tmux
session. This package is imported lazily: config validation only needs `names`.
"""
