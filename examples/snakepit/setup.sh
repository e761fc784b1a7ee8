#!/usr/bin/env bash
# Make the snakepit's work area next to this file:
#   work/queue/food/      work items waiting to be eaten (the planner writes them)
#   work/queue/claimed/   items a worker is eating: <worker>-<item>, renamed here atomically
#   work/queue/done/      results, one file per item
#   work/queue/waste/     eaten items (a worker's claim, moved here when its result is in done/)
#   work/queue/scraps/    the cleanup agent's notes: one per stale claim it put back into food/
# Every agent works in work/ (so `queue/...` paths in the prompts are relative to it).
# Idempotent: does nothing when work/queue exists.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -d work/queue ]]; then
    echo "setup: already done"
    exit 0
fi
mkdir -p work/queue/{food,claimed,done,waste,scraps}
echo "setup: work/queue/{food,claimed,done,waste,scraps}"
