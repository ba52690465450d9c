import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';
import { UnavailableError } from '../src/errors.js';
import { DuplicateRequestKeyError, acceptRunCommand, clientRequestKey } from '../src/run-inbox.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/**
 * Idempotency-Keys when commands are sharded by run (docs/scaling.md): a key is claimed in the
 * unsharded `request_keys` before its command is stored. These are the edges of that claim: an
 * acceptor that stalls past the claim's life, a command stored before claims existed, a key whose
 * first request is still being accepted, and a write that landed although it reported failure.
 */
const db = await useTestDatabases('request_keys');

/** Only what acceptance reads of a run: its owner and its command counter. */
async function bareRun(): Promise<{ runId: string; userId: string }> {
  const runId = newId('run');
  const userId = newId('user');
  await db.models.runs.collection.insertOne({
    workflow_run_id: runId,
    user_id: userId,
    command_seq: 0,
  });
  return { runId, userId };
}

const cancel = (runId: string, userId: string, idempotencyKey: string) => ({
  runId,
  userId,
  type: 'cancel' as const,
  correlationId: newId('correlation'),
  idempotencyKey,
});

const commandsOf = (runId: string) =>
  db.models.runCommands.find({ workflow_run_id: runId }).sort({ seq: 1 }).lean();

describe('Idempotency-Key claims', () => {
  it('gives up a stalled acceptor’s claim by filling its number, so its late command is refused', async () => {
    const { runId, userId } = await bareRun();
    // A took number 1 and claimed the key 40 s ago, then stalled before storing its command.
    await db.models.runs.updateOne({ workflow_run_id: runId }, { $inc: { command_seq: 1 } });
    const stalledCommandId = newId('command');
    await db.models.requestKeys.collection.insertOne({
      client_request_key: clientRequestKey(userId, 'k1'),
      user_id: userId,
      workflow_run_id: runId,
      command_id: stalledCommandId,
      seq: 1,
      created_at: new Date(Date.now() - 40_000),
    });
    const retried = await acceptRunCommand(db.models, cancel(runId, userId, 'k1'));
    expect(retried.seq).toBe(2);
    // A wakes up and stores its command at number 1: the filler holds it, the unique index refuses.
    await expect(
      db.models.runCommands.collection.insertOne({
        command_id: stalledCommandId,
        workflow_run_id: runId,
        user_id: userId,
        seq: 1,
        type: 'cancel',
        payload: {},
        status: 'pending',
      }),
    ).rejects.toMatchObject({ code: 11000 });
    const stored = await commandsOf(runId);
    expect(stored.map((c) => [c.seq, c.type, c.client_request_key ?? null])).toEqual([
      [1, 'continue', null],
      [2, 'cancel', clientRequestKey(userId, 'k1')],
    ]);
    // The key now names the retry's command, and only it.
    await expect(acceptRunCommand(db.models, cancel(runId, userId, 'k1'))).rejects.toMatchObject({
      existing: { command_id: retried.command_id },
    });
  });

  it('answers a key whose first request is still being accepted with 503, storing nothing', async () => {
    const { runId, userId } = await bareRun();
    await db.models.requestKeys.collection.insertOne({
      client_request_key: clientRequestKey(userId, 'k2'),
      user_id: userId,
      workflow_run_id: runId,
      command_id: newId('command'),
      seq: 7,
      created_at: new Date(),
    });
    // The check before acceptance sees a claim without its command: not a duplicate yet.
    const error = await acceptRunCommand(db.models, cancel(runId, userId, 'k2')).catch((e) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    // The number it took is filled (no gap), and no command of its own was stored.
    expect((await commandsOf(runId)).map((c) => [c.seq, c.type])).toEqual([[1, 'continue']]);
  });

  it('finds a command stored before claims existed, through the old unique index, and claims it', async () => {
    const collection = db.models.runCommands.collection;
    await collection.createIndex(
      { client_request_key: 1 },
      { unique: true, sparse: true, name: 'legacy_client_request_key' },
    );
    try {
      const { runId, userId } = await bareRun();
      await db.models.runs.updateOne({ workflow_run_id: runId }, { $inc: { command_seq: 1 } });
      const legacyId = newId('command');
      await collection.insertOne({
        command_id: legacyId,
        workflow_run_id: runId,
        user_id: userId,
        seq: 1,
        type: 'cancel',
        payload: {},
        correlation_id: newId('correlation'),
        actor: null,
        client_request_key: clientRequestKey(userId, 'k3'),
        status: 'applied',
        error: null,
        accepted_at: new Date(Date.now() - 3_600_000),
        finished_at: new Date(),
      });
      const error = await acceptRunCommand(db.models, cancel(runId, userId, 'k3')).catch((e) => e);
      expect(error).toBeInstanceOf(DuplicateRequestKeyError);
      expect((error as DuplicateRequestKeyError).existing.command_id).toBe(legacyId);
      // The claim is written for it: the next request with the key is routed, not scattered.
      expect(
        await db.models.requestKeys
          .findOne({ client_request_key: clientRequestKey(userId, 'k3') })
          .lean(),
      ).toMatchObject({ workflow_run_id: runId, command_id: legacyId });
      await expect(acceptRunCommand(db.models, cancel(runId, userId, 'k3'))).rejects.toMatchObject({
        existing: { command_id: legacyId },
      });
    } finally {
      await collection.dropIndex('legacy_client_request_key');
    }
  });
});
