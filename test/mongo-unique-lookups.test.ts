import { afterAll, describe, expect, inject, it } from 'vitest';
import mongoose from 'mongoose';

/**
 * Queries that name a unique index's keys *and* other conditions: the shape of every conditional
 * write on Stepwise's hot path (a commit is `{user_id, workflow_run_id, lease_fence, last_seq}`).
 * The in-memory stand-in looks them up by the index (IndexedMemoryBackend, issue 23) where the
 * library scanned; the answers must stay what MongoDB gives, whichever store answers.
 */
const { MongoClient } = mongoose.mongo;
const client = new MongoClient(inject('mongoUrl'));
await client.connect();
const db = client.db(`t_unique_lookups_${Date.now()}`);
afterAll(async () => {
  await db.dropDatabase();
  await client.close();
});

const runs = db.collection('runs');
await runs.createIndex({ user_id: 1, workflow_run_id: 1 }, { unique: true });
await runs.insertMany([
  { user_id: 'u1', workflow_run_id: 'r1', lease_fence: 1, last_seq: 4, tags: ['a', 'b'] },
  { user_id: 'u1', workflow_run_id: 'r2', lease_fence: 2, last_seq: 0, tags: [] },
  { user_id: 'u2', workflow_run_id: 'r1', lease_fence: 1, last_seq: 9, owner: null },
]);

const ids = (docs: readonly Record<string, unknown>[]) =>
  docs.map((d) => `${String(d.user_id)}/${String(d.workflow_run_id)}`);

describe('lookups by a unique key with more conditions', () => {
  it('find the document only when every other condition holds too', async () => {
    const key = { user_id: 'u1', workflow_run_id: 'r1' };
    expect(ids(await runs.find({ ...key, lease_fence: 1, last_seq: 4 }).toArray())).toEqual([
      'u1/r1',
    ]);
    expect(await runs.find({ ...key, lease_fence: 2 }).toArray()).toEqual([]);
    expect(ids(await runs.find({ ...key, last_seq: { $gte: 4 } }).toArray())).toEqual(['u1/r1']);
    expect(await runs.find({ ...key, last_seq: { $gt: 4 } }).toArray()).toEqual([]);
    expect(ids(await runs.find({ ...key, tags: 'b' }).toArray())).toEqual(['u1/r1']);
    expect(
      ids(await runs.find({ ...key, $or: [{ lease_fence: 9 }, { last_seq: 4 }] }).toArray()),
    ).toEqual(['u1/r1']);
    expect(
      await runs.find({ ...key, $or: [{ lease_fence: 9 }, { last_seq: 5 }] }).toArray(),
    ).toEqual([]);
    // A missing field is null to a query, as MongoDB has it.
    expect(
      ids(await runs.find({ user_id: 'u2', workflow_run_id: 'r1', owner: null }).toArray()),
    ).toEqual(['u2/r1']);
    expect(ids(await runs.find({ ...key, owner: null }).toArray())).toEqual(['u1/r1']);
    // Part of the key as a pattern is not a lookup, and still answers like a scan.
    expect(
      ids(
        await runs.find({ user_id: /^u/, workflow_run_id: 'r1', lease_fence: 1 }).toArray(),
      ).sort(),
    ).toEqual(['u1/r1', 'u2/r1']);
  });

  it('a conditional update changes the document only when its conditions hold', async () => {
    const key = { user_id: 'u1', workflow_run_id: 'r2' };
    const stale = await runs.updateOne({ ...key, lease_fence: 1 }, { $set: { last_seq: 7 } });
    expect(stale.matchedCount).toBe(0);
    const fresh = await runs.updateOne(
      { ...key, lease_fence: 2, last_seq: 0 },
      { $set: { last_seq: 7 }, $inc: { lease_fence: 1 } },
    );
    expect(fresh.modifiedCount).toBe(1);
    // The fence moved: the same condition no longer matches, the new one does.
    expect(
      (await runs.updateOne({ ...key, lease_fence: 2 }, { $set: { x: 1 } })).matchedCount,
    ).toBe(0);
    const after = await runs.findOneAndUpdate(
      { ...key, lease_fence: 3, last_seq: 7 },
      { $set: { x: 2 } },
      { returnDocument: 'after' },
    );
    expect(after).toMatchObject({ workflow_run_id: 'r2', lease_fence: 3, last_seq: 7, x: 2 });
    // The other user's run of the same id was never touched.
    expect(await runs.findOne({ user_id: 'u2', workflow_run_id: 'r1' })).toMatchObject({
      last_seq: 9,
    });
  });

  it('an update that changes the key keeps the index right', async () => {
    await runs.updateOne(
      { user_id: 'u1', workflow_run_id: 'r1', lease_fence: 1 },
      { $set: { workflow_run_id: 'r9' } },
    );
    expect(await runs.findOne({ user_id: 'u1', workflow_run_id: 'r1', lease_fence: 1 })).toBeNull();
    expect(
      await runs.findOne({ user_id: 'u1', workflow_run_id: 'r9', lease_fence: 1 }),
    ).toMatchObject({ last_seq: 4 });
    await expect(runs.insertOne({ user_id: 'u1', workflow_run_id: 'r9' })).rejects.toMatchObject({
      code: 11000,
    });
  });
});

describe('lookups by the first key of a unique index (a run’s events, a file’s chunks)', () => {
  it('find every document with that first key, whatever else the query says, as a scan would', async () => {
    const events = db.collection('events');
    await events.createIndex({ workflow_run_id: 1, seq: 1 }, { unique: true });
    await events.insertMany(
      ['a', 'b', 'c'].flatMap((run) =>
        [1, 2, 3, 4].map((seq) => ({ workflow_run_id: run, seq, branch_id: seq < 3 ? 'x' : 'y' })),
      ),
    );
    const seqs = async (query: Record<string, unknown>) =>
      (await events.find(query).sort({ workflow_run_id: 1, seq: 1 }).toArray()).map(
        (e) => `${String(e['workflow_run_id'])}${String(e['seq'])}`,
      );
    expect(await seqs({ workflow_run_id: 'b' })).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect(await seqs({ workflow_run_id: 'b', branch_id: 'y' })).toEqual(['b3', 'b4']);
    expect(await seqs({ workflow_run_id: 'b', seq: { $gt: 2 } })).toEqual(['b3', 'b4']);
    expect(await seqs({ workflow_run_id: 'zz' })).toEqual([]);
    expect(await events.countDocuments({ workflow_run_id: 'c' })).toBe(4);
    // The index follows deletes and updates that move a document to another first key.
    await events.deleteOne({ workflow_run_id: 'b', seq: 2 });
    await events.updateOne(
      { workflow_run_id: 'c', seq: 4 },
      { $set: { workflow_run_id: 'b', seq: 9 } },
    );
    expect(await seqs({ workflow_run_id: 'b' })).toEqual(['b1', 'b3', 'b4', 'b9']);
    expect(await seqs({ workflow_run_id: 'c' })).toEqual(['c1', 'c2', 'c3']);
    await events.deleteMany({ workflow_run_id: 'a' });
    expect(await seqs({ workflow_run_id: 'a' })).toEqual([]);
    // A range or a pattern on the first key is not a lookup, and still answers like a scan.
    expect(await seqs({ workflow_run_id: { $gte: 'c' } })).toEqual(['c1', 'c2', 'c3']);
    expect(await seqs({ workflow_run_id: /^b/, branch_id: 'x' })).toEqual(['b1']);
  });
});
