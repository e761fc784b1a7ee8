"""Domain watchers (DESIGN §8): small periodic programs that flag stuck work items.

Every watcher consumes three modules: `decisions` (pure: staleness rule, per-episode decision
ids, the records, `declare`), `ledger` (the idempotent decision ledger on disk) and `loop` (one
tick, and the tick loop). Each built-in in `builtins/` (`claims`, `phases`, `inboxes`, `held`)
owns only its drain and its declaration (kind, namespace, vocabulary); `issue_runs/` acts on the
runs `agents run` started; `user` adapts a user's `module:factory` or command; `sources` is what
the built-ins read. `host` runs one watcher agent (`agents watcher run NAME`) in its tmux session.
This package is imported lazily: config validation only needs `config/watcher_names.py`.
"""
