import type { DeletionCounts } from '@stepwise/shared';

/**
 * What a deletion has removed, by collection (GridFS files as `files:<bucket>`, queued jobs as
 * `jobs:<queue>`). Counts accumulate in memory and are written to the deletion's record at each
 * checkpoint (`flush`), so a deletion's progress is visible while it runs.
 */
export class DeletionTally {
  private pending: Record<string, number> = {};
  private pendingRuns = 0;
  private readonly totals: Record<string, number> = {};
  runsDeleted = 0;

  constructor(private readonly onFlush?: (counts: DeletionCounts, runs: number) => Promise<void>) {}

  add(collection: string, count: number): void {
    if (count <= 0) return;
    this.pending[collection] = (this.pending[collection] ?? 0) + count;
    this.totals[collection] = (this.totals[collection] ?? 0) + count;
  }

  addRuns(count: number): void {
    this.pendingRuns += count;
    this.runsDeleted += count;
  }

  /** Everything counted so far. */
  counts(): DeletionCounts {
    return { ...this.totals };
  }

  async flush(): Promise<void> {
    const counts = this.pending;
    const runs = this.pendingRuns;
    if (Object.keys(counts).length === 0 && runs === 0) return;
    this.pending = {};
    this.pendingRuns = 0;
    await this.onFlush?.(counts, runs);
  }
}
