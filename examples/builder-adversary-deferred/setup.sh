#!/usr/bin/env bash
# Make the work repos for this example, next to this file:
#   origin.git  a bare repo both loop agents push to (the handoff repo's origin)
#   work/       the builder's clone (also [loop].repo: the watchdog fetches here)
#   review/     the adversary's clone (two-clone isolation: it never edits the builder's tree;
#               it is only used in the review phase)
#   report/     the reporter's folder
# Idempotent: does nothing when origin.git exists.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -d origin.git ]]; then
    echo "setup: already done"
    exit 0
fi
git init -q --bare --initial-branch=main origin.git
git clone -q origin.git work 2>/dev/null
mkdir -p work/.agents
printf '# wc\n\nA small wc clone, built by the builder, verified by the adversary at the end.\n' > work/README.md
printf '# Phase p1 status\n\nIn progress.\n' > work/.agents/status-p1.md
printf '# Phase p2 status\n\nNot started.\n' > work/.agents/status-p2.md
printf '# Phase p3-review status\n\nNot started.\n' > work/.agents/status-p3-review.md
git -C work add -A
git -C work -c user.name=setup -c user.email=setup@example.invalid commit -qm "Initial commit: README and status files"
git -C work push -q origin main
git clone -q origin.git review 2>/dev/null
mkdir -p report
echo "setup: origin.git, work/ (builder), review/ (adversary), report/"
