#!/usr/bin/env bash
# origin.git (bare, the handoff origin), work/ (the builder's clone, also [loop].repo), and one
# clone per reviewer: rev1/, rev2/.
set -euo pipefail
cd "$(dirname "$0")"
git init -q --bare --initial-branch=main origin.git
git clone -q origin.git work 2>/dev/null
printf '# Phase p1 status\n\nIn progress.\n' > work/status-p1.md
git -C work add -A
git -C work -c user.name=setup -c user.email=setup@example.invalid commit -qm "Initial commit: status file"
git -C work push -q origin main
git clone -q origin.git rev1 2>/dev/null
git clone -q origin.git rev2 2>/dev/null
