import { describe, expect, it } from 'vitest';
import { TokenLedger, type CallToRecord } from '../src/history/token-ledger.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/** Usage that tells the truth (effects.md, rule 4), on the real MongoDB wire server. */
const db = await useTestDatabases('token-ledger');

const call = (key: string): CallToRecord => ({
  idempotency_key: key,
  attempt: 1,
  workflow_run_id: 'run_ledger',
  user_id: 'usr_x',
  branch_id: 'br_x',
  step_id: 's',
  module_name: 'ask',
  provider: '127.0.0.1',
  model: 'm',
});

const statuses = async (key: string) =>
  (await db.models.tokens.find({ idempotency_key: key }).sort({ call_index: 1 }).lean()).map(
    (record) => [record.call_index, record.status],
  );

describe('the token ledger', () => {
  it('records a call before it is made, once per (key, index), and settles it', async () => {
    const ledger = new TokenLedger(db.models);
    const first = await ledger.begin(call('run_ledger:4'));
    expect(await statuses('run_ledger:4')).toEqual([[0, 'pending']]);
    await ledger.finish(first, {
      status: 'completed',
      input_tokens: 3,
      output_tokens: 2,
      total_cost: 0.1,
    });
    // A second answer for the same call changes nothing: the record is no longer pending.
    await ledger.finish(first, { status: 'failed' });
    const second = await ledger.begin(call('run_ledger:4'));
    expect(second.call_index).toBe(1);
    // The attempt failed after its second call got no answer: only that one is lost.
    await ledger.closeAttempt('run_ledger', 'run_ledger:4');
    expect(await statuses('run_ledger:4')).toEqual([
      [0, 'completed'],
      [1, 'lost'],
    ]);
  });

  it('counts every call of an attempt run again after recovery as lost, answered or not', async () => {
    const ledger = new TokenLedger(db.models);
    const answered = await ledger.begin(call('run_ledger:9'));
    await ledger.finish(answered, {
      status: 'completed',
      input_tokens: 1,
      output_tokens: 1,
      total_cost: 0,
    });
    await ledger.begin(call('run_ledger:9'));
    await ledger.closeAttempt('run_ledger', 'run_ledger:9', true);
    expect(await statuses('run_ledger:9')).toEqual([
      [0, 'lost'],
      [1, 'lost'],
    ]);
    // The repeat is the one call of the attempt that counts.
    const repeat = await ledger.begin(call('run_ledger:9'));
    await ledger.finish(repeat, {
      status: 'completed',
      input_tokens: 1,
      output_tokens: 1,
      total_cost: 0,
    });
    expect(await statuses('run_ledger:9')).toEqual([
      [0, 'lost'],
      [1, 'lost'],
      [2, 'completed'],
    ]);
  });
});
