#!/usr/bin/env bash
# Make the work repos for this example, next to this file:
#   origin.git  a bare repo the builder pushes to (the handoff repo's origin)
#   work/       the builder's clone (also [loop].repo: the watchdog fetches here)
#   report/     the reporter's folder
# No review/ clone: nobody else reads the code. Idempotent: does nothing when origin.git exists.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -d origin.git ]]; then
    echo "setup: already done"
    exit 0
fi
git init -q --bare --initial-branch=main origin.git
git clone -q origin.git work 2>/dev/null
mkdir -p work/.agents
printf '# wc\n\nA small wc clone, built and verified by one builder.\n' > work/README.md
printf '# Phase p1 status\n\nIn progress.\n' > work/.agents/status-p1.md
printf '# Phase p2 status\n\nNot started.\n' > work/.agents/status-p2.md
git -C work add -A
git -C work -c user.name=setup -c user.email=setup@example.invalid commit -qm "Initial commit: README and status files"
git -C work push -q origin main
mkdir -p report
echo "setup: origin.git, work/ (builder), report/"
