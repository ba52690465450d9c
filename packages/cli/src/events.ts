import type { EventView, RunView } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { compactJson, positionOf, print, truncate } from './format.js';
import { exitCodeFor } from './run-view.js';

/** The statuses a run ends in; `events` stops following there. */
const endedBy: Partial<Record<string, RunView['status']>> = {
  run_completed: 'completed',
  run_failed: 'error',
  run_cancelled: 'cancelled',
};

const endings: Partial<Record<RunView['status'], string>> = {
  completed: 'the run completed',
  error: 'the run failed',
  cancelled: 'the run was cancelled',
};

/**
 * Prints events one after another. Who sent a command is said at its first event (the answer, the
 * retry, the branch), not again at each event the runner appended while carrying it out.
 */
class EventPrinter {
  private lastCommandId: string | null = null;

  constructor(private readonly me: string) {}

  print(event: EventView): void {
    const first = event.command_id === null || event.command_id !== this.lastCommandId;
    this.lastCommandId = event.command_id;
    print(describeEvent(event, first ? this.actorOf(event) : ''));
  }

  /** You, or another user by id; `(web)` when it came from a signed-in page. */
  private actorOf(event: EventView): string {
    if (!event.actor) return '';
    const who = event.actor.user_id === this.me ? 'you' : event.actor.user_id;
    return `by ${who}${event.actor.session_id ? ' (web)' : ''}`;
  }
}

function field<T>(data: Record<string, unknown>, key: string): T | undefined {
  return data[key] as T | undefined;
}

/** What an event says beyond its type and place: an answer, outputs, an error, feedback… */
export function eventDetail(event: EventView): string | null {
  const { data } = event;
  switch (event.event_type) {
    case 'interaction_requested': {
      const request = field<{ prompt?: string; message?: string }>(data, 'request');
      const asks = request?.prompt ?? request?.message;
      const deadline = field<{ due_at?: string; on_timeout?: string }>(data, 'deadline');
      const due = deadline?.due_at
        ? ` (due ${deadline.due_at}, then ${deadline.on_timeout ?? 'fail'})`
        : '';
      return asks ? `asks: ${truncate(asks.trim().replaceAll('\n', ' '), 200)}${due}` : null;
    }
    case 'interaction_responded': {
      const reused = field<string>(data, 'reused_from');
      const timedOut = field<boolean>(data, 'timed_out')
        ? ' (the default: nobody answered in time)'
        : '';
      return `answer: ${compactJson(data['response'])}${reused ? ` (reused from ${reused})` : ''}${timedOut}`;
    }
    case 'interaction_timed_out':
      return `nobody answered by ${String(data['due_at'])}: ${data['on_timeout'] === 'default' ? 'the default answer is given' : 'the module fails'}`;
    case 'reminder_sent':
      return `reminder ${String(data['reminder'])}; next at ${String(data['next_due_at'])}`;
    case 'module_completed':
      return `outputs: ${compactJson(data['outputs'] ?? {})}`;
    case 'module_failed': {
      const error = field<{ code?: string; message?: string }>(data, 'error');
      const retry = field<boolean>(data, 'will_retry')
        ? `; will retry${field<string>(data, 'retry_at') ? ` at ${field<string>(data, 'retry_at')}` : ''}`
        : '';
      return `error ${error?.code ?? '?'}: ${truncate(error?.message ?? '', 300)} (attempt ${String(field<number>(data, 'attempt') ?? '?')}${retry})`;
    }
    case 'run_failed':
    case 'job_failed': {
      const error = field<{ code?: string; message?: string }>(data, 'error');
      return `error ${error?.code ?? '?'}: ${truncate(error?.message ?? '', 300)}`;
    }
    case 'retry_requested': {
      const target = field<{ step_id: string; module_name: string }>(data, 'target');
      const feedback = field<string | null>(data, 'feedback');
      return `retry ${target ? `${target.step_id}.${target.module_name}` : '?'}${feedback ? `, feedback: ${truncate(feedback, 300)}` : ''}${reusing(data)}`;
    }
    case 'branch_created': {
      const onto = field<string>(data, 'workflow_version_id');
      return `branch ${String(data['branch_id'])} from ${String(data['branch_point_event_id'])}${onto ? ` onto ${onto}` : ''}${reusing(data)}`;
    }
    case 'version_switched': {
      const restartAt = field<{ step_id: string; module_name: string } | null>(data, 'restart_at');
      return `${String(data['from_version_id'])} → ${String(data['to_version_id'])}${restartAt ? `, back to ${restartAt.step_id}.${restartAt.module_name}` : ''}${reusing(data)}`;
    }
    case 'module_skipped':
      return `when false: ${truncate(String(data['when']), 200)}`;
    default:
      return null;
  }
}

/** One event: seq, time, id, type, step.module and who, with its detail on the next line. */
export function describeEvent(event: EventView, actor: string): string {
  const where = positionOf(event.step_id, event.module_name);
  const head = [
    String(event.seq).padStart(5),
    event.timestamp.slice(11, 19),
    event.event_id,
    event.event_type.padEnd(22),
    where === '-' ? '' : where,
    actor,
  ]
    .filter((part, index) => index < 4 || part !== '')
    .join('  ');
  const detail = eventDetail(event);
  return detail ? `${head}\n${' '.repeat(7)}${detail}` : head;
}

/** Prints the active branch's events after `afterSeq`, page by page; answers the last seq printed. */
async function printHistory(
  client: ApiClient,
  runId: string,
  afterSeq: number,
  printer: EventPrinter,
): Promise<number> {
  let after = afterSeq;
  let last = afterSeq;
  for (;;) {
    const { body } = await client.request<{ items: EventView[]; next_after_seq: number | null }>(
      'GET',
      `/v1/runs/${encodeURIComponent(runId)}/events?after_seq=${after}&limit=500`,
    );
    for (const event of body.items) {
      printer.print(event);
      last = event.seq;
    }
    if (body.next_after_seq === null) return last;
    after = body.next_after_seq;
  }
}

/**
 * The run's events as its Server-Sent Events stream delivers them, from after `afterSeq`; on a
 * dropped connection it reconnects with `Last-Event-ID`, so each event comes once.
 */
async function* streamEvents(
  client: ApiClient,
  runId: string,
  afterSeq: number,
): AsyncGenerator<EventView> {
  let lastId = String(afterSeq);
  for (;;) {
    const connection = new AbortController();
    const response = await fetch(client.url(`/v1/runs/${encodeURIComponent(runId)}/stream`), {
      headers: { authorization: `Bearer ${client.config.api_key}`, 'last-event-id': lastId },
      signal: connection.signal,
    }).catch(() => null);
    if (response && !response.ok) {
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not an envelope: the status says enough
      }
      throw client.errorOf(response.status, parsed);
    }
    if (response?.body) {
      let buffer = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let boundary: number;
          while ((boundary = buffer.indexOf('\n\n')) >= 0) {
            const lines = buffer.slice(0, boundary).split('\n');
            buffer = buffer.slice(boundary + 2);
            const data = lines.find((line) => line.startsWith('data:'));
            const id = lines.find((line) => line.startsWith('id:'));
            if (!data || !id) continue; // a comment: the opening line or a heartbeat
            lastId = id.slice(3).trim();
            yield JSON.parse(data.slice(5)) as EventView;
          }
        }
      } catch (error) {
        if (error instanceof SyntaxError) throw error;
        // the connection dropped: reconnect below
      } finally {
        // The caller may stop at an event (the run ended): close the connection with it.
        connection.abort();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/**
 * `stepwise events RUN [--no-follow]`: the active branch's events, then (unless told not to) new
 * ones as they happen, until the run completes, fails or is cancelled. A failed run exits
 * non-zero.
 */
export async function events(runId: string, options: { follow?: boolean }): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const me = (await client.request<{ user: { user_id: string } }>('GET', '/v1/me')).body.user
    .user_id;
  const printer = new EventPrinter(me);
  const last = await printHistory(client, runId, 0, printer);
  const run = await client.run(runId);
  const ending = endings[run.status];
  if (ending !== undefined) {
    // It may have ended between the last page and the run read: print what came meanwhile.
    await printHistory(client, runId, last, printer);
    print(ending);
  }
  if (options.follow === false || ending !== undefined) {
    exitCodeFor(run);
    return;
  }
  for await (const event of streamEvents(client, runId, last)) {
    printer.print(event);
    const status = endedBy[event.event_type];
    if (status === undefined) continue;
    print(endings[status]);
    if (status === 'error') process.exitCode = 1;
    return;
  }
  throw new CliError('the event stream ended');
}

/** How a retry, restart or branch that reuses earlier answers says so. */
function reusing(data: Record<string, unknown>): string {
  return data['reuse_answers'] === true ? ', reusing answers to questions asked as before' : '';
}
