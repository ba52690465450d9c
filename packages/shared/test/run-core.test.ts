import { describe, expect, expectTypeOf, it } from 'vitest';
import { branchSnapshotSchema, runCommandTypeSchema, type BranchSnapshot } from '../src/records.js';
import {
  commandPayload,
  commandPayloadSchemas,
  runCommandSchema,
  type RunCommandOf,
} from '../src/runs/commands.js';
import {
  eventDataOf,
  eventDataSchemas,
  parseRunEvent,
  runEventSchema,
  type RunEventOf,
} from '../src/runs/event-data.js';
import { eventTypes, type EventType, type FoldableEvent } from '../src/runs/events.js';
import {
  applyEvent,
  emptySnapshot,
  eventHandlers,
  replayEvents,
  runFieldsOf,
} from '../src/runs/reducer.js';

/** The pure run core: the vocabulary's schemas and the fold, without a database. */

let seq = 0;
function ev(
  event_type: EventType,
  data: Record<string, unknown> = {},
  position: { step_id?: string; module_name?: string } = {},
): FoldableEvent {
  return {
    event_type,
    step_id: position.step_id ?? null,
    module_name: position.module_name ?? null,
    data,
    seq: ++seq,
  };
}
const mod = { step_id: 's', module_name: 'm' };
const E = { code: 'E', message: 'm' };
const fold = (events: FoldableEvent[], from = emptySnapshot('br', 'v1')) =>
  events.reduce(applyEvent, from);
const created = (state: Record<string, unknown> = {}) =>
  ev('run_created', { project_name: 'p', initial_state: state });
const started = (key?: string) =>
  ev('module_started', { inputs: {}, attempt: 1, ...(key ? { idempotency_key: key } : {}) }, mod);
const completed = (changes: Record<string, unknown> = {}) =>
  ev('module_completed', { outputs: {}, state_changes: changes }, mod);
const failed = (willRetry: boolean, extra: Record<string, unknown> = {}) =>
  ev('module_failed', { error: E, attempt: 1, will_retry: willRetry, ...extra }, mod);
const switched = (restart: typeof mod | null) =>
  ev('version_switched', {
    from_version_id: 'v1',
    to_version_id: 'v2',
    choice: 'continue_with_new',
    restart_at: restart,
  });
const interrupted = (key: string) =>
  ev('module_interrupted', { attempt: 1, idempotency_key: key }, mod);
const asking = () =>
  fold([
    created(),
    started('run:2'),
    ev(
      'interaction_requested',
      { interaction_id: 'i', module_id: 'user.confirm', request: {} },
      mod,
    ),
  ]);
const parses = (event: unknown) => runEventSchema.safeParse(event).success;

describe('one handler per event type', () => {
  it('has a handler for every type and nothing else', () => {
    expect(Object.keys(eventHandlers).sort()).toEqual([...eventTypes].sort());
    expect(Object.keys(eventDataSchemas).sort()).toEqual([...eventTypes].sort());
    expect(runEventSchema.options.map((o) => o.shape.event_type.value).sort()).toEqual(
      [...eventTypes].sort(),
    );
    expectTypeOf(eventHandlers).toHaveProperty('module_interrupted');
  });

  it('moves as_of_seq with every event, and only that for a type it does not know', () => {
    const before = asking();
    const after = applyEvent(before, {
      ...ev('run_resumed'),
      event_type: 'workflow_recovered' as never,
    });
    expect(after).toEqual({ ...before, as_of_seq: after.as_of_seq });
    expect(after.as_of_seq).toBeGreaterThan(before.as_of_seq);
  });

  it('run_created starts the state from initial_state', () => {
    const s = fold([created({ a: 1 })]);
    expect(s).toMatchObject({ state: { a: 1 }, status: 'running', cursor: null, as_of_seq: seq });
  });

  it('steps open and close', () => {
    const open = fold([ev('step_started', {}, { step_id: 's' })]);
    expect(open.open_step).toBe('s');
    expect(applyEvent(open, ev('step_completed', {}, { step_id: 's' })).open_step).toBeNull();
  });

  it('module_started, module_completed and module_skipped move the cursor and the state', () => {
    const s1 = fold([created({ a: 1 }), started()]);
    expect(s1).toMatchObject({
      cursor: { ...mod, phase: 'started' },
      attempt: 1,
      status: 'running',
    });
    const s2 = applyEvent(s1, completed({ b: 2 }));
    expect(s2).toMatchObject({ state: { a: 1, b: 2 }, cursor: { phase: 'completed' }, attempt: 0 });
    const s3 = applyEvent(
      s2,
      ev('module_skipped', { when: 'x' }, { step_id: 's', module_name: 'n' }),
    );
    expect(s3.cursor).toEqual({ step_id: 's', module_name: 'n', phase: 'skipped' });
  });

  it('module_failed waits for a retry or fails the module', () => {
    const base = fold([started()]);
    const waiting = applyEvent(base, failed(true, { retry_at: '2025-01-01T00:00:00.000Z' }));
    expect(waiting).toMatchObject({
      cursor: { phase: 'retry_wait' },
      retry_at: '2025-01-01T00:00:00.000Z',
      error: null,
    });
    const gaveUp = applyEvent(base, failed(false));
    expect(gaveUp).toMatchObject({ cursor: { phase: 'failed' }, error: E, status: 'running' });
    expect(runFieldsOf(applyEvent(gaveUp, ev('run_failed', { error: E }))).error).toEqual(E);
  });

  it('an outside job waits, changes status and closes with the module', () => {
    const submitted = applyEvent(
      fold([started()]),
      ev(
        'job_submitted',
        {
          job_id: 'job_1',
          status: 'queued',
          attempt: 1,
          idempotency_key: 'k',
          submitted_at: '2025-01-01T00:00:00.000Z',
          poll_at: '2025-01-01T00:00:01.000Z',
          deadline_at: '2025-01-01T00:10:00.000Z',
        },
        mod,
      ),
    );
    expect(submitted).toMatchObject({
      cursor: { ...mod, phase: 'job_wait' },
      retry_at: '2025-01-01T00:00:01.000Z',
      job: { job_id: 'job_1', status: 'queued', deadline_at: '2025-01-01T00:10:00.000Z' },
      attempt: 1,
    });
    // The attempt's key stays: the job belongs to it, and a check runs under it.
    expect(submitted.attempt_key).toBe(fold([started()]).attempt_key);
    const polled = applyEvent(
      submitted,
      ev(
        'job_polled',
        { job_id: 'job_1', status: 'running', poll_at: '2025-01-01T00:00:03.000Z' },
        mod,
      ),
    );
    expect(polled).toMatchObject({
      retry_at: '2025-01-01T00:00:03.000Z',
      job: { status: 'running' },
    });
    const done = applyEvent(
      applyEvent(
        polled,
        ev('job_completed', { job_id: 'job_1', status: 'succeeded', artifact_ids: ['a'] }, mod),
      ),
      completed({ images: ['a'] }),
    );
    expect(done).not.toHaveProperty('job');
    expect(done).toMatchObject({ cursor: { phase: 'completed' }, retry_at: null });
    const failedJob = applyEvent(
      applyEvent(polled, ev('job_failed', { job_id: 'job_1', status: 'failed', error: E }, mod)),
      failed(false),
    );
    expect(failedJob).not.toHaveProperty('job');
    expect(failedJob.cursor?.phase).toBe('failed');
    // A snapshot with a job is a valid snapshot, and one without never gains the key.
    expect(branchSnapshotSchema.parse(polled)).toEqual(polled);
    expect(fold([created({}), started(), completed({})])).not.toHaveProperty('job');
  });

  it('interactions ask and are answered', () => {
    const s = asking();
    expect(s.status).toBe('awaiting_input');
    expect(s.pending_interaction).toEqual({
      interaction_id: 'i',
      module_id: 'user.confirm',
      ...mod,
      request: {},
    });
    const answered = applyEvent(s, ev('interaction_responded', { interaction_id: 'i' }, mod));
    expect(answered).toMatchObject({ status: 'running', pending_interaction: null });
  });

  it('the run ends completed, failed or cancelled', () => {
    expect(applyEvent(asking(), ev('run_completed', { state: {} }))).toMatchObject({
      status: 'completed',
      pending_interaction: null,
    });
    expect(applyEvent(asking(), ev('run_cancelled', { reason: null }))).toMatchObject({
      status: 'cancelled',
      pending_interaction: null,
    });
    const ended = applyEvent(asking(), ev('run_failed', { error: E }));
    expect(runFieldsOf(ended)).toMatchObject({ status: 'error', error: E });
  });

  it('retry_requested puts the cursor back with feedback for the target', () => {
    const s = applyEvent(
      asking(),
      ev('retry_requested', { target: { step_id: 'a', module_name: 'b' }, feedback: 'more' }),
    );
    expect(s).toMatchObject({
      status: 'running',
      cursor: { step_id: 'a', module_name: 'b', phase: 'ready' },
      attempt: 0,
      open_step: null,
      pending_interaction: null,
      feedback: { step_id: 'a', module_name: 'b', text: 'more' },
    });
  });

  it('branch_created renames the branch; version_switched changes the version', () => {
    const branched = applyEvent(
      asking(),
      ev('branch_created', {
        branch_id: 'br2',
        parent_branch_id: 'br',
        branch_point_event_id: 'e',
      }),
    );
    expect(branched.branch_id).toBe('br2');
    // A question is asked again under the new version.
    expect(applyEvent(asking(), switched(null))).toMatchObject({
      version_id: 'v2',
      cursor: { phase: 'ready' },
      status: 'running',
    });
  });

  it('run_resumed reopens a failed module and leaves anything else as it stands', () => {
    const stopped = fold([started(), failed(false), ev('run_failed', { error: E })]);
    expect(applyEvent(stopped, ev('run_resumed'))).toMatchObject({
      status: 'running',
      error: null,
      cursor: { phase: 'ready' },
    });
    const waiting = asking();
    expect(applyEvent(waiting, ev('run_resumed'))).toEqual({ ...waiting, as_of_seq: seq });
  });

  it('module_interrupted changes nothing but as_of_seq', () => {
    const s = fold([started('run:1')]);
    expect(applyEvent(s, interrupted('run:1'))).toEqual({ ...s, as_of_seq: seq });
  });
});

describe('attempt_key', () => {
  const key = 'run_1:5';
  const inFlight = () => fold([started(key)]);

  it('is the started attempt’s key, null when its log predates keys, kept when interrupted', () => {
    expect(emptySnapshot('b', 'v').attempt_key).toBeNull();
    expect(inFlight().attempt_key).toBe(key);
    expect(fold([started()]).attempt_key).toBeNull();
    expect(applyEvent(inFlight(), interrupted(key)).attempt_key).toBe(key);
  });

  it('is cleared when the attempt ends', () => {
    const ends = [
      completed(),
      ev('module_skipped', { when: 'no' }, mod),
      failed(true),
      failed(false),
      ev('retry_requested', { target: mod, feedback: null }),
      switched(mod),
    ];
    for (const end of ends)
      expect(applyEvent(inFlight(), end).attempt_key, end.event_type).toBeNull();
  });

  it('is cleared when a failed module is made ready again', () => {
    // As if a failed attempt still held its key: making the module ready drops it regardless.
    const stopped = { ...fold([started(key), failed(false)]), attempt_key: key };
    expect(applyEvent({ ...stopped, status: 'error' }, ev('run_resumed')).attempt_key).toBeNull();
    expect(applyEvent(stopped, switched(null)).attempt_key).toBeNull();
  });

  it('is optional in stored snapshots', () => {
    const { attempt_key: _dropped, ...old } = emptySnapshot('b', 'v');
    expect(branchSnapshotSchema.safeParse(old).success).toBe(true);
    expect(branchSnapshotSchema.parse(inFlight()).attempt_key).toBe(key);
  });
});

describe('old data folds as the untyped fold folded it', () => {
  const last = (events: FoldableEvent[]): BranchSnapshot => fold(events);

  it('reads a missing or odd field as absent', () => {
    expect(last([ev('module_started', {}, mod)]).attempt).toBe(1);
    expect(last([ev('module_started', { attempt: 'two' }, mod)]).attempt).toBe(1);
    expect(last([ev('module_started', { attempt: 2.5 }, mod)]).attempt).toBe(2.5);
    expect(last([ev('run_created', { initial_state: ['x'] })]).state).toEqual({});
    expect(last([ev('module_completed', { state_changes: 'x' }, mod)]).state).toEqual({});
    expect(last([ev('module_failed', { will_retry: 'yes', retry_at: 5 }, mod)]).cursor?.phase).toBe(
      'failed',
    );
    expect(last([ev('module_failed', { will_retry: true, retry_at: 5 }, mod)]).retry_at).toBeNull();
    expect(last([ev('branch_created', { branch_id: 7 })]).branch_id).toBe('br');
    expect(
      last([ev('version_switched', { to_version_id: null, restart_at: { step_id: 's' } })])
        .version_id,
    ).toBe('v1');
    const noTarget = last([ev('retry_requested', { feedback: 'x' })]);
    expect(noTarget).toEqual({ ...emptySnapshot('br', 'v1'), as_of_seq: seq });
  });

  it('keeps the coercions it made: ids as text, any object as the error', () => {
    const asked = last([ev('interaction_requested', { interaction_id: 42, request: 'r' }, mod)]);
    expect(asked.pending_interaction).toMatchObject({
      interaction_id: '42',
      module_id: 'undefined',
    });
    expect(last([ev('run_failed', { error: { code: 'E' } })]).error).toEqual({ code: 'E' });
    expect(last([ev('run_failed', {})]).error).toEqual({});
    const detailed = { code: 'E', message: 'm', details: [1] };
    expect(last([ev('module_failed', { error: detailed, will_retry: false }, mod)]).error).toEqual(
      detailed,
    );
  });

  it('ignores keys it does not know, such as the migrated step_id inside data', () => {
    const data = { outputs: {}, state_changes: { a: 1 }, step_id: 's', module_name: 'm' };
    expect(last([ev('module_completed', data, mod)]).state).toEqual({ a: 1 });
    expect(runEventSchema.parse({ ...ev('module_completed', data, mod) }).data).toEqual(data);
  });
});

describe('the typed vocabulary', () => {
  it('parses what the engine writes, old and new', () => {
    const old = parseRunEvent(ev('module_started', { inputs: { a: 1 }, attempt: 1 }, mod));
    expect(old.event_type).toBe('module_started');
    const keyed = ev(
      'module_started',
      { inputs: {}, attempt: 2, idempotency_key: 'r:3', effects: 'external' },
      mod,
    );
    expect(parseRunEvent(keyed).data).toMatchObject({ effects: 'external' });
    expect(parses(created())).toBe(true);
  });

  it('refuses what no engine wrote', () => {
    expect(parses(ev('module_started', { inputs: {}, attempt: 'x' }, mod))).toBe(false);
    expect(parses(ev('module_started', { inputs: {}, attempt: 1 }))).toBe(false);
    expect(parses(ev('module_interrupted', { attempt: 1 }, mod))).toBe(false);
    expect(parses({ ...ev('run_resumed'), event_type: 'workflow_created' })).toBe(false);
    expect(parses(interrupted('r:4'))).toBe(true);
  });

  it('eventDataOf reads one type, typed, and nothing else', () => {
    const saved = ev('module_completed', { outputs: { artifact_id: 'a' }, state_changes: {} }, mod);
    const data = eventDataOf(saved, 'module_completed');
    expectTypeOf(data).toEqualTypeOf<RunEventOf<'module_completed'>['data'] | null>();
    expect(data?.outputs['artifact_id']).toBe('a');
    expect(eventDataOf(saved, 'module_failed')).toBeNull();
    expect(eventDataOf(ev('module_completed', { outputs: 1 }, mod), 'module_completed')).toBeNull();
  });
});

describe('commands', () => {
  it('has one payload schema per command type', () => {
    expect(Object.keys(commandPayloadSchemas).sort()).toEqual(
      [...runCommandTypeSchema.options].sort(),
    );
    expect(runCommandSchema.options.map((o) => o.shape.type.value).sort()).toEqual(
      [...runCommandTypeSchema.options].sort(),
    );
  });

  it('parses the payloads the gateway and the wake job build', () => {
    const built = [
      { type: 'start', payload: {} },
      { type: 'respond', payload: { interaction_id: 'int_1', response: null } },
      { type: 'cancel', payload: {} },
      { type: 'continue', payload: { expected_last_seq: 7 } },
      { type: 'retry', payload: { step_id: 's', module_name: 'm', feedback: 'f' } },
      { type: 'retry', payload: { step_id: 's' } },
      { type: 'branch', payload: { from_event_id: 'evt_1', branch_id: 'br_2' } },
      { type: 'resume', payload: {} },
      { type: 'switch_version', payload: { to_version_id: 'ver_2', restart_at: 'intro' } },
      { type: 'switch_version', payload: { to_version_id: 'ver_2' } },
    ];
    for (const command of built) expect(runCommandSchema.parse(command)).toEqual(command);
  });

  it('refuses payloads that do not fit, and drops keys it does not know', () => {
    const fits = (command: unknown) => runCommandSchema.safeParse(command).success;
    expect(fits({ type: 'respond', payload: { response: 1 } })).toBe(false);
    expect(fits({ type: 'continue', payload: { expected_last_seq: -1 } })).toBe(false);
    expect(fits({ type: 'jump', payload: {} })).toBe(false);
    expect(runCommandSchema.parse({ type: 'resume', payload: { extra: 1 } })).toEqual({
      type: 'resume',
      payload: {},
    });
  });

  it('types each variant', () => {
    const retry = commandPayload('retry', { step_id: 's' });
    expectTypeOf(retry).toEqualTypeOf<RunCommandOf<'retry'>['payload']>();
    expectTypeOf<RunCommandOf<'cancel'>['payload']['reason']>().toEqualTypeOf<
      string | null | undefined
    >();
    expect(() => commandPayload('branch', { from_event_id: 'e' } as never)).toThrow();
  });
});

describe('replayEvents', () => {
  it('folds a log from an empty snapshot', () => {
    const events = [
      created({ a: 1 }),
      ev('step_started', {}, { step_id: 's' }),
      started('k:3'),
      completed({ b: 2 }),
      ev('step_completed', {}, { step_id: 's' }),
      ev('run_completed', { state: { a: 1, b: 2 } }),
    ];
    const replayed = replayEvents('br', events, 'v1');
    expect(replayed).toEqual(fold(events));
    expect(branchSnapshotSchema.parse(replayed)).toEqual(replayed);
    expect(replayed).toMatchObject({
      status: 'completed',
      state: { a: 1, b: 2 },
      attempt_key: null,
    });
  });
});

describe('what the migration from the original system writes (docs/migration-original.md)', () => {
  it('a completed module with outputs_state_key writes its whole output under it, then its state changes', () => {
    const snapshot = fold([
      created({ kept: 1 }),
      ev(
        'module_completed',
        {
          outputs: { answer: 42, _state_mapped: { m: 'mapped wins' } },
          outputs_state_key: 'm',
          state_changes: { m: 'mapped wins', other: null },
        },
        mod,
      ),
    ]);
    expect(snapshot.state).toEqual({ kept: 1, m: 'mapped wins', other: null });
    const withoutKey = fold([
      created(),
      ev('module_completed', { outputs: { answer: 42 }, state_changes: {} }, mod),
    ]);
    expect(withoutKey.state).toEqual({});
    const asOutput = fold([
      created(),
      ev(
        'module_completed',
        { outputs: { answer: 42 }, outputs_state_key: 'm', state_changes: {} },
        mod,
      ),
    ]);
    expect(asOutput.state).toEqual({ m: { answer: 42 } });
  });

  it('a legacy event moves nothing but the state writes it carries', () => {
    const before = fold([created({ a: 1 }), started(), completed({ b: 2 })]);
    const kept = applyEvent(
      before,
      ev('legacy_event', { legacy_type: 'jump_requested', legacy_data: { target_step: 's' } }),
    );
    expect(kept).toEqual({ ...before, as_of_seq: kept.as_of_seq });
    const subAction = applyEvent(
      before,
      ev('legacy_event', {
        legacy_type: 'sub_action_completed',
        legacy_data: {},
        state_changes: { b: 3, c: [1] },
      }),
    );
    expect(subAction).toEqual({
      ...before,
      as_of_seq: subAction.as_of_seq,
      state: { a: 1, b: 3, c: [1] },
    });
    expect(
      runEventSchema.safeParse({
        event_type: 'legacy_event',
        step_id: 's',
        module_name: null,
        data: { legacy_type: 'x', legacy_data: {} },
      }).success,
    ).toBe(true);
  });
});
