#!/usr/bin/env bash
# Issue 23, second round: the commit before it (OLD, a worktree with its own build) and the work
# (NEW) alternated old, new, new, old, each `node bench/gateway-reads.mjs --seconds 5 --rounds 3`
# then `node bench/interaction.mjs` (full size) against the same Redis and MongoDB stand-in.
# OLD: git worktree add /tmp/ab-old 99d37ad && (cd /tmp/ab-old && npm ci && npx tsc -b)
set -u
OLD=${OLD:-/tmp/ab-old}
NEW=${NEW:-/work/main}
out=$(cd "$(dirname "$0")" && pwd)
for side in old new new old; do
  dir=$OLD; [ "$side" = new ] && dir=$NEW
  stamp=$(date +%H%M%S)
  (cd "$dir" && node bench/gateway-reads.mjs --seconds 5 --rounds 3) > "$out/reads-$side-$stamp.log" 2>&1
  (cd "$dir" && node bench/interaction.mjs) > "$out/interaction-$side-$stamp.log" 2>&1
done
