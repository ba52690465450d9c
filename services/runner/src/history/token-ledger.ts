import type { TokenUsageRecord } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';

export interface ProviderCall {
  /** Its run: the ledger is sharded by run (shard-keys.ts). */
  workflow_run_id: string;
  idempotency_key: string;
  call_index: number;
}

export type CallToRecord = Omit<
  TokenUsageRecord,
  | 'call_index'
  | 'status'
  | 'input_tokens'
  | 'output_tokens'
  | 'total_cost'
  | 'created_at'
  | 'completed_at'
>;

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown }).code === 11000;
}

/**
 * The `tokens` collection as a ledger of provider calls (effects.md, rule 4): a record is written
 * `pending` before a call and completed when its answer comes, so a call whose answer was lost
 * (the process died mid-call) stays visible as `lost` instead of silently absent. Records are
 * unique on (run, idempotency key, call index): a repeat of the same write never adds a second.
 */
export class TokenLedger {
  constructor(private readonly models: Models) {}

  /** Records a call about to be made; its index is the next free one for the attempt's key. */
  async begin(call: CallToRecord, now = new Date()): Promise<ProviderCall> {
    let index = await this.models.tokens.countDocuments({
      workflow_run_id: call.workflow_run_id,
      idempotency_key: call.idempotency_key,
    });
    for (;;) {
      try {
        await this.models.tokens.collection.insertOne({
          ...call,
          call_index: index,
          status: 'pending',
          input_tokens: 0,
          output_tokens: 0,
          total_cost: 0,
          created_at: now,
          completed_at: null,
        } satisfies TokenUsageRecord);
        return {
          workflow_run_id: call.workflow_run_id,
          idempotency_key: call.idempotency_key,
          call_index: index,
        };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        index += 1;
      }
    }
  }

  /** The provider answered: its usage and cost, or `failed` with none when it answered an error. */
  async finish(
    call: ProviderCall,
    outcome:
      | { status: 'completed'; input_tokens: number; output_tokens: number; total_cost: number }
      | { status: 'failed' },
    now = new Date(),
  ): Promise<void> {
    await this.models.tokens.updateOne(
      { ...call, status: 'pending' },
      { $set: { ...outcome, completed_at: now } },
    );
  }

  /**
   * The attempt has ended: any of its calls still pending never got an answer. `recovered`: the
   * attempt is about to run again after its drain died or lost its lease, so no answer any of its
   * calls got reached the log either; they all count as lost (a provider that honours the key
   * charges the repeat as the same call, which is then the one completed).
   */
  async closeAttempt(
    runId: string,
    idempotencyKey: string,
    recovered = false,
    now = new Date(),
  ): Promise<void> {
    await this.models.tokens.updateMany(
      {
        workflow_run_id: runId,
        idempotency_key: idempotencyKey,
        status: recovered ? { $in: ['pending', 'completed'] } : 'pending',
      },
      { $set: { status: 'lost', completed_at: now } },
    );
  }
}
