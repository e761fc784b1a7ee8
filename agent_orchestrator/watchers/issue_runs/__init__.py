"""The issue-run watcher: one in-flight run per issue, CI verdicts, fix-forward."""
