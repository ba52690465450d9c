#!/usr/bin/env bash
# A/B in one sitting: the commit before this work (old) and after (new), alternated, three rounds.
export MONGO_URL=mongodb://127.0.0.1:37017/stepwise REDIS_URL=redis://127.0.0.1:16379
order=(old new new old old new)
i=0
for side in "${order[@]}"; do
  i=$((i+1))
  echo "=== round-step $i: $side $(date -u +%H:%M:%S)"
  (cd /tmp/ab-$side && node bench/run.mjs --only engine,interaction 2>&1 | tail -25)
done
echo "=== finished $(date -u +%H:%M:%S)"
