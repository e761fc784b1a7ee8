#!/usr/bin/env bash
# Make the Codex agent's work repo next to this file: work/, a git repo with one commit on main.
# Idempotent: does nothing when work/.git exists.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -d work/.git ]]; then
    echo "setup: already done"
    exit 0
fi
git init -q --initial-branch=main work
printf '# codex e2e\n\nThe Codex agent adds made.txt here and commits it.\n' > work/README.md
git -C work add -A
git -C work -c user.name=setup -c user.email=setup@example.invalid commit -qm "Initial commit"
echo "setup: work/ (the coder's repo)"
