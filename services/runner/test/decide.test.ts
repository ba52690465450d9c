import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  WorkflowPlan,
  emptySnapshot,
  workflowDefinitionSchema,
  type ExecutableModule,
  type RunCommandRecord,
  type RunCommandType,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import { recordExecution, advance } from '../src/engine/advance.js';
import {
  decideCommand,
  decideDrive,
  type EngineDependencies,
} from '../src/engine/decide-command.js';
import type { DecisionSession } from '../src/engine/decision.js';
import { executeModule } from '../src/engine/execute-module.js';
import { ModuleFailure } from '../src/engine/module-failure.js';
import { createModuleRegistry } from '../src/modules/registry.js';
import { transformSet } from '../src/modules/transform.js';
import { userConfirm } from '../src/modules/user-confirm.js';
import { TemplateEngine } from '../src/engine/templating.js';

/**
 * The pure run core, without a database or a queue: what a command decides, where a decision stops
 * for a module to be executed, and how a result and a recovery become events.
 */

/** A module with external effects that the tests never run: only its declaration matters here. */
const callOut: ExecutableModule = {
  id: 'test.call_out',
  interactive: false,
  effects: 'external',
  summary: 'Calls a provider',
  inputs: z.strictObject({ text: z.string() }),
  execute: () => Promise.reject(new Error('the decision must never execute a module')),
};

const plan = new WorkflowPlan(
  workflowDefinitionSchema.parse({
    workflow_id: 'core',
    steps: [
      {
        step_id: 'draft',
        modules: [
          {
            module_id: 'transform.set',
            name: 'topic',
            inputs: { value: 'cats' },
            outputs_to_state: { value: 'topic' },
          },
          {
            module_id: 'test.call_out',
            name: 'ask',
            inputs: { text: 'about {{ state.topic }}' },
            retry: { max_attempts: 2, backoff_ms: 1_000 },
          },
          { module_id: 'user.confirm', name: 'ok', inputs: { message: 'ok?' } },
        ],
      },
    ],
  }),
);

const now = new Date('2026-11-30T00:00:00Z');
const deps: EngineDependencies = {
  registry: createModuleRegistry([transformSet, userConfirm, callOut]),
  templates: new TemplateEngine(),
  now: () => now,
  newInteractionId: () => 'int_fixed',
  moduleTimeoutMs: 1_000,
  loadPlan: () => Promise.resolve(plan),
  history: {
    readBranch: () => Promise.resolve(null),
    findEvent: () => Promise.resolve(null),
    visibleEvents: () => Promise.resolve([]),
    interactionEvents: () => Promise.resolve([]),
  },
};

function newRun(): WorkflowRunRecord {
  return {
    workflow_run_id: 'run_core',
    workflow_template_id: 'tpl_core',
    workflow_template_name: 'core',
    user_id: 'usr_core',
    initial_version_id: 'ver_core',
    current_version_id: 'ver_core',
    project_name: 'p',
    initial_state: {},
    status: 'running',
    current_step: null,
    current_module: null,
    pending_interaction: null,
    error: null,
    active_branch_id: 'br_core',
    last_seq: 0,
    command_seq: 1,
    applied_command_seq: 0,
    last_rejection: null,
    snapshot: emptySnapshot('br_core', 'ver_core'),
    outbox: [],
    created_at: now,
    updated_at: now,
  };
}

function command(type: RunCommandType, payload: Record<string, unknown> = {}): RunCommandRecord {
  return {
    command_id: 'cmd_x',
    workflow_run_id: 'run_core',
    user_id: 'usr_core',
    seq: 1,
    type,
    payload,
    correlation_id: 'corr_x',
    status: 'pending',
    error: null,
    accepted_at: now,
    finished_at: null,
  };
}

/** The run as it stands after committing a session's events. */
function committed(run: WorkflowRunRecord, session: DecisionSession): WorkflowRunRecord {
  const events = session.takeEvents();
  return { ...run, snapshot: session.snapshot, last_seq: run.last_seq + events.length };
}

/** What the drain does with pure modules: runs them in the batch, no commit in between. */
async function runPureModules(run: WorkflowRunRecord, session: DecisionSession): Promise<void> {
  for (let pending = session.pending; pending?.effects === 'none'; pending = session.pending) {
    const result = await executeModule(deps, run, session, pending, new AbortController().signal);
    recordExecution(session, pending, result, deps);
    await advance(session, run, pending.plan, deps);
  }
}

async function startedAtCallOut() {
  const run = newRun();
  const decision = await decideCommand(run, command('start'), deps);
  if (decision.kind !== 'events') throw new Error('start decided nothing');
  await runPureModules(run, decision.session);
  return { run, session: decision.session };
}

describe('deciding a command', () => {
  it('runs pure modules in the decision and stops before an external one, naming its key', async () => {
    const { session } = await startedAtCallOut();
    expect(session.events.map((e) => e.event_type)).toEqual([
      'run_created',
      'step_started',
      'module_started',
      'module_completed',
      'module_started',
    ]);
    const started = session.events.at(-1);
    expect(started?.data).toMatchObject({
      attempt: 1,
      effects: 'external',
      idempotency_key: 'run_core:5',
      inputs: { text: 'about cats' },
    });
    expect(session.pending).toMatchObject({
      idempotencyKey: 'run_core:5',
      attempt: 1,
      effects: 'external',
      recovered: false,
    });
    expect(session.pending?.planned.module.name).toBe('ask');
  });

  it('turns a result into module_completed and goes on to the next question', async () => {
    const { run, session } = await startedAtCallOut();
    const execution = session.pending;
    if (!execution) throw new Error('nothing pending');
    recordExecution(session, execution, { ok: true, value: { text: 'meow' } }, deps);
    await advance(session, run, plan, deps);
    await runPureModules(run, session);
    expect(session.events.slice(5).map((e) => e.event_type)).toEqual([
      'module_completed',
      'module_started',
      'interaction_requested',
    ]);
    expect(session.snapshot.status).toBe('awaiting_input');
    expect(session.pending).toBeNull();
  });

  it('waits out a retry backoff rather than running the module again at once', async () => {
    const { run, session } = await startedAtCallOut();
    const execution = session.pending;
    if (!execution) throw new Error('nothing pending');
    const failure = new ModuleFailure('LLM_PROVIDER_ERROR', 'overloaded', true);
    recordExecution(session, execution, { ok: false, failure }, deps);
    await advance(session, run, plan, deps);
    expect(session.events.at(-1)).toMatchObject({
      event_type: 'module_failed',
      data: { will_retry: true, retry_at: '2026-11-30T00:00:01.000Z' },
    });
    expect(session.wakeAt).toEqual(new Date('2026-11-30T00:00:01.000Z'));
    expect(session.pending).toBeNull();
  });

  it('records an attempt cut off mid-module as interrupted and hands it out again, same key', async () => {
    const { run, session } = await startedAtCallOut();
    // The drain committed up to the module's start, then died.
    const crashed = committed(run, session);
    expect(crashed.snapshot.cursor).toMatchObject({ module_name: 'ask', phase: 'started' });
    const recovery = await decideDrive(crashed, deps);
    if (recovery.kind !== 'events') throw new Error('nothing to recover');
    expect(recovery.session.events.map((e) => [e.event_type, e.data])).toEqual([
      ['module_interrupted', { attempt: 1, idempotency_key: 'run_core:5' }],
    ]);
    expect(recovery.session.pending).toMatchObject({
      idempotencyKey: 'run_core:5',
      attempt: 1,
      recovered: true,
    });
  });

  it('refuses what a finished run cannot do, and a payload of the wrong shape', async () => {
    const finished = newRun();
    finished.snapshot = { ...finished.snapshot, as_of_seq: 3, status: 'completed' };
    expect(await decideCommand(finished, command('cancel'), deps)).toMatchObject({
      kind: 'reject',
      error: { code: 'RUN_FINISHED' },
    });
    expect(await decideCommand(newRun(), command('respond', { response: 1 }), deps)).toMatchObject({
      kind: 'reject',
      error: { code: 'BAD_REQUEST' },
    });
  });
});
