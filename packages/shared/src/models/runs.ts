import { Schema, type Connection } from 'mongoose';
import type { BranchRecord, EventRecord, RunCommandRecord, WorkflowRunRecord } from '../records.js';

const { Mixed } = Schema.Types;

const runSchema = new Schema<WorkflowRunRecord>(
  {
    workflow_run_id: { type: String, required: true },
    workflow_template_id: { type: String, required: true },
    workflow_template_name: { type: String, required: true },
    user_id: { type: String, required: true },
    initial_version_id: { type: String, required: true },
    current_version_id: { type: String, required: true },
    project_name: { type: String, required: true },
    initial_state: { type: Mixed, default: {} },
    status: {
      type: String,
      enum: ['running', 'awaiting_input', 'completed', 'error', 'cancelled'],
      required: true,
    },
    current_step: { type: String, default: null },
    current_module: { type: String, default: null },
    pending_interaction: { type: Mixed, default: null },
    error: { type: Mixed, default: null },
    active_branch_id: { type: String, required: true },
    last_seq: { type: Number, required: true, default: 0 },
    command_seq: { type: Number, required: true, default: 0 },
    applied_command_seq: { type: Number, required: true, default: 0 },
    command_accepted_at: { type: Date, default: null },
    last_rejection: { type: Mixed, default: null },
    snapshot: { type: Mixed, required: true },
    outbox: { type: Mixed, default: [] },
    lease_holder: { type: String, default: null },
    lease_expires_at: { type: Date, default: null },
    wake_at: { type: Date },
    wake_seq: { type: Number },
    lease_fence: { type: Number, default: 0 },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
  },
  { collection: 'workflow_runs', versionKey: false, minimize: false },
);
// Sharded by owner (shard-keys.ts): a run id is unique within its owner's runs, and random.
runSchema.index({ user_id: 1, workflow_run_id: 1 }, { unique: true });
runSchema.index({ user_id: 1, created_at: -1, workflow_run_id: -1 });
runSchema.index({ workflow_template_id: 1 });
// The impact report and batch migrations: a user's runs of one template, newest first.
runSchema.index({ user_id: 1, workflow_template_id: 1, created_at: -1, workflow_run_id: -1 });
runSchema.index({ status: 1 });
// The sweep that re-creates lost deadline timers: only questions with a deadline have the field.
runSchema.index({ 'pending_interaction.deadline.due_at': 1 }, { sparse: true });
// The inbox (GET /v1/me/interactions): a user's waiting runs in the order they started waiting;
// while a run waits its updated_at is the time of the question (see gateway runs/inbox.ts).
runSchema.index({ user_id: 1, status: 1, updated_at: 1, workflow_run_id: 1 });
// The user stream (GET /v1/me/stream): a user's runs changed since a moment, in commit order.
runSchema.index({ user_id: 1, updated_at: 1, workflow_run_id: 1 });

const eventSchema = new Schema<EventRecord>(
  {
    event_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    workflow_version_id: { type: String, required: true },
    branch_id: { type: String, required: true },
    seq: { type: Number, required: true },
    event_type: { type: String, required: true },
    step_id: { type: String, default: null },
    module_name: { type: String, default: null },
    data: { type: Mixed, default: {} },
    timestamp: { type: Date, required: true },
    correlation_id: { type: String, required: true },
    command_id: { type: String, default: null },
    actor: { type: Mixed, default: null },
  },
  { collection: 'events', versionKey: false, minimize: false },
);
// The append guard: two writers can never both take the same seq of a run.
eventSchema.index({ workflow_run_id: 1, seq: 1 }, { unique: true });
eventSchema.index({ workflow_run_id: 1, event_id: 1 }, { unique: true });
eventSchema.index({ workflow_run_id: 1, branch_id: 1, seq: 1 });

const branchSchema = new Schema<BranchRecord>(
  {
    branch_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    parent_branch_id: { type: String, default: null },
    branch_point_event_id: { type: String, default: null },
    lineage: {
      type: [{ _id: false, branch_id: String, until_seq: Number }],
      default: [],
    },
    status: { type: String, enum: ['active', 'inactive'], required: true },
    created_at: { type: Date, required: true },
  },
  { collection: 'branches', versionKey: false, minimize: false },
);
branchSchema.index({ workflow_run_id: 1, branch_id: 1 }, { unique: true });
branchSchema.index({ workflow_run_id: 1, created_at: 1 });

const runCommandSchema = new Schema<RunCommandRecord>(
  {
    command_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    user_id: { type: String, required: true },
    seq: { type: Number, required: true },
    type: { type: String, required: true },
    payload: { type: Mixed, default: {} },
    correlation_id: { type: String, required: true },
    actor: { type: Mixed, default: null },
    client_request_key: { type: String },
    written_seq: { type: Number },
    status: { type: String, enum: ['pending', 'applied', 'rejected'], required: true },
    error: { type: Mixed, default: null },
    accepted_at: { type: Date, required: true },
    finished_at: { type: Date, default: null },
  },
  { collection: 'run_commands', versionKey: false, minimize: false },
);
runCommandSchema.index({ workflow_run_id: 1, command_id: 1 }, { unique: true });
// Acceptance order: one command per (run, seq).
runCommandSchema.index({ workflow_run_id: 1, seq: 1 }, { unique: true });
runCommandSchema.index({ status: 1, accepted_at: 1 });
// A client's Idempotency-Key names one command for ever: that is held by `request_keys` (a
// lookup, since a key is not scoped to one run and this collection is sharded by run).

export function createRunModels(connection: Connection) {
  return {
    runs: connection.model<WorkflowRunRecord>('WorkflowRun', runSchema),
    events: connection.model<EventRecord>('Event', eventSchema),
    branches: connection.model<BranchRecord>('Branch', branchSchema),
    runCommands: connection.model<RunCommandRecord>('RunCommand', runCommandSchema),
  };
}
