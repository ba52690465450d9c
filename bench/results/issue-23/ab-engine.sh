#!/usr/bin/env bash
# Engine A/B for issue 23: the tree at the start of the work (OLD, a copy with its own build and
# its own MongoDB stand-in jar) and the tree after it (NEW), alternated old, new, new, old, each
# `npm run bench -- --only engine,interaction` (full size) on stores of its own.
set -u
# OLD: git worktree add /tmp/ab-old 897b36b && (cd /tmp/ab-old && npm ci)
OLD=${OLD:-/tmp/ab-old}
NEW=${NEW:-/work/main}
out=$(dirname "$0")
for side in old new new old; do
  dir=$OLD; [ "$side" = new ] && dir=$NEW
  (cd "$dir" && npm run -s bench -- --only engine,interaction) > "$out/ab-$side-$(date +%H%M%S).log" 2>&1
done
