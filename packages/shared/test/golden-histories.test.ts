import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { branchSnapshotSchema, type BranchSnapshot } from '../src/records.js';
import { eventDataOf, runEventSchema } from '../src/runs/event-data.js';
import { eventTypeSchema, eventTypes } from '../src/runs/events.js';
import { replayEvents } from '../src/runs/reducer.js';

/**
 * Golden histories: event logs of real runs, recorded from the engine as it was before attempts
 * had keys (and a few logs as the migration from the single-user schema wrote them), with the
 * snapshot the engine committed for each. Replaying them must give those snapshots for ever: a
 * change to the fold that would alter an old run fails here. Ids are normalised to counters.
 *
 * To add one: drive a run (e.g. as services/runner/test/drain.test.ts does), read its events and
 * `snapshot` from MongoDB, normalise ids, and write the file in the format below.
 */

const directory = new URL('../../../test/fixtures/golden-histories/', import.meta.url);

const lineageSchema = z.array(z.object({ branch_id: z.string(), until_seq: z.number().int() }));

const goldenHistorySchema = z.strictObject({
  name: z.string(),
  /** The branch whose snapshot is expected (the run's active branch when recorded). */
  branch_id: z.string(),
  initial_version_id: z.string(),
  /** The branch record's lineage; when absent it is read from the branch's `branch_created`. */
  lineage: lineageSchema.optional(),
  /** Every event of the run, on every branch, in seq order. */
  events: z.array(
    z.strictObject({
      seq: z.number().int().positive(),
      event_type: eventTypeSchema,
      step_id: z.string().nullable(),
      module_name: z.string().nullable(),
      data: z.record(z.string(), z.unknown()),
      branch_id: z.string(),
      workflow_version_id: z.string().optional(),
    }),
  ),
  expected_snapshot: z.record(z.string(), z.unknown()),
  /** Snapshots the engine committed along the way (one per command that appended events). */
  checkpoints: z
    .array(
      z.strictObject({
        branch_id: z.string(),
        lineage: lineageSchema,
        snapshot: z.record(z.string(), z.unknown()),
      }),
    )
    .optional(),
});
type GoldenHistory = z.infer<typeof goldenHistorySchema>;

const histories: GoldenHistory[] = readdirSync(directory)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) =>
    goldenHistorySchema.parse(JSON.parse(readFileSync(new URL(file, directory), 'utf8'))),
  );

type Lineage = z.infer<typeof lineageSchema>;

function lineageOf(history: GoldenHistory): Lineage {
  if (history.lineage) return history.lineage;
  for (const event of history.events) {
    const data = eventDataOf(event, 'branch_created');
    if (data?.branch_id === history.branch_id) return data.lineage ?? [];
  }
  return [];
}

/** What the engine folds for a branch: its own events and its ancestors' up to each fork. */
function visibleEvents(
  events: GoldenHistory['events'],
  branchId: string,
  lineage: Lineage,
  untilSeq = Infinity,
): GoldenHistory['events'] {
  return events.filter(
    (event) =>
      event.seq <= untilSeq &&
      (event.branch_id === branchId ||
        lineage.some(
          (ancestor) => ancestor.branch_id === event.branch_id && event.seq <= ancestor.until_seq,
        )),
  );
}

/** The replay compared with a recorded snapshot; `attempt_key` only where one was recorded. */
function expectReplayed(replayed: BranchSnapshot, expected: Record<string, unknown>): void {
  const { attempt_key: attemptKey, ...rest } = replayed;
  expect('attempt_key' in expected ? replayed : rest).toEqual(expected);
  // Old logs never name an attempt key, so none is left behind.
  expect(attemptKey).toBeNull();
  expect(branchSnapshotSchema.parse(replayed)).toEqual(replayed);
}

describe('golden histories', () => {
  it('are there, and cover every event type the engine wrote before attempts had keys', () => {
    expect(histories.length).toBeGreaterThanOrEqual(10);
    const seen = new Set(histories.flatMap((history) => history.events.map((e) => e.event_type)));
    // Types the engine first wrote after attempts had keys: no log written before holds them.
    const later = new Set([
      'module_interrupted',
      'job_submitted',
      'job_polled',
      'job_completed',
      'job_failed',
      // Deadlines (people.md, "Notifications and deadlines") came later still.
      'interaction_timed_out',
      'reminder_sent',
      // Only the migration from the original system writes it (docs/migration-original.md).
      'legacy_event',
    ]);
    const expected = eventTypes.filter((type) => !later.has(type));
    expect(expected.filter((type) => !seen.has(type))).toEqual([]);
  });

  it.each(histories.map((history) => [history.name, history] as const))(
    '%s replays to the snapshot the engine committed',
    (_name, history) => {
      const visible = visibleEvents(history.events, history.branch_id, lineageOf(history));
      expectReplayed(
        replayEvents(history.branch_id, visible, history.initial_version_id),
        history.expected_snapshot,
      );
    },
  );

  it.each(histories.map((history) => [history.name, history] as const))(
    '%s replays to each snapshot committed along the way',
    (_name, history) => {
      for (const { branch_id: branchId, lineage, snapshot } of history.checkpoints ?? []) {
        const asOf = z.number().parse(snapshot['as_of_seq']);
        const visible = visibleEvents(history.events, branchId, lineage, asOf);
        expectReplayed(replayEvents(branchId, visible, history.initial_version_id), snapshot);
      }
    },
  );

  it.each(histories.map((history) => [history.name, history] as const))(
    'every event of %s parses as a typed run event',
    (_name, history) => {
      for (const event of history.events) {
        const parsed = runEventSchema.safeParse(event);
        expect(parsed.error?.issues ?? [], `seq ${event.seq} ${event.event_type}`).toEqual([]);
        // Parsing keeps every key of the data, including ones this version does not know.
        expect(parsed.data?.data).toEqual(event.data);
      }
    },
  );
});
