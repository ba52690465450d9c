import type { PendingInteraction } from '../api/requests';
import { answerPhrase, askedText, questionOf, quote } from './answers';
import { clockTime } from './format';
import {
  errorOf,
  eventPosition,
  interactionIdOf,
  moduleLabel,
  numberField,
  positionOf,
  recordField,
  retryOf,
  textField,
  type Actor,
  type ModulePosition,
  type RunEvent,
} from './events';

/*
 * The run page's presenter: a branch's events, oldest first, become what a person reads — groups
 * by step, each event one plain sentence ("you answered “blue”", "ideas.generate produced outputs
 * text", "ideas.generate failed (attempt 2 of 3): timeout"), with the actions it offers. Pure, so
 * the page only renders what this decides.
 */

/** The signed-in person, to tell their own actions ("you") from others'. */
export interface Viewer {
  userId: string;
  username: string;
}

/** How many attempts a module of a version has (its `retry.max_attempts`), when known. */
export type AttemptsOf = (versionId: string, position: ModulePosition) => number | null;

export type EntryTone = 'plain' | 'quiet' | 'good' | 'bad';

/** Retry feedback shown beside the entry it led to. */
export interface FeedbackNote {
  /** The retried module, `step.module`. */
  module: string;
  text: string;
}

/** Where a reused answer (versions.md, "Reusing answers") was first given. */
export interface ReusedAnswer {
  /** The earlier `interaction_responded`. */
  eventId: string;
  /** Its seq when it is among the events read (an anchor to it on the page), else null. */
  seq: number | null;
}

export interface TimelineEntry {
  event: RunEvent;
  tone: EntryTone;
  /** Who acted, as the sentence's subject ("You (mia)"), or null when the run itself did. */
  who: string | null;
  /** The rest of the sentence (the whole of it when `who` is null). */
  text: string;
  /** How they acted, when through an API key. */
  via: string | null;
  /** A value to show on request: a module's inputs or outputs. */
  details: { label: string; value: unknown } | null;
  /** The retry feedback that led to this output or question. */
  feedback: FeedbackNote | null;
  /** The `interaction_requested` event to branch from ("Answer this again"). */
  answerAgainFrom: string | null;
  /** This is its module's latest outcome in the timeline: a retry is offered here. */
  retry: ModulePosition | null;
  /** The question waits for an answer now. */
  pendingInteractionId: string | null;
  /** The answer was not given now but reused from an earlier one. */
  reusedFrom: ReusedAnswer | null;
}

export interface TimelineGroup {
  key: string;
  /** The step the group's events belong to; null for the run's own events. */
  stepId: string | null;
  startedAt: string;
  entries: TimelineEntry[];
}

export interface TimelineInput {
  /** A branch's events as loaded, oldest first. */
  events: readonly RunEvent[];
  viewer: Viewer | null;
  /** The run's pending interaction, if any. */
  pendingInteractionId: string | null;
  attemptsOf: AttemptsOf;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The subject of a sentence about what a person did. */
export function actorName(actor: Actor | null, viewer: Viewer | null): string | null {
  if (!actor) return null;
  if (viewer && actor.user_id === viewer.userId) return `You (${viewer.username})`;
  return `User ${actor.user_id}`;
}

function actorVia(actor: Actor | null): string | null {
  return actor?.key_id ? `through API key ${actor.key_id}` : null;
}

const entryBase = {
  tone: 'plain' as EntryTone,
  details: null,
  feedback: null,
  answerAgainFrom: null,
  retry: null,
  pendingInteractionId: null,
  reusedFrom: null,
};

function failureText(event: RunEvent, position: ModulePosition, attemptsOf: AttemptsOf): string {
  const attempt = numberField(event.data, 'attempt');
  const max = attemptsOf(event.workflow_version_id, position);
  const attemptText =
    attempt === null ? '' : ` (attempt ${attempt}${max !== null ? ` of ${max}` : ''})`;
  const message = errorOf(event.data)?.message ?? 'no message';
  const retryAt = textField(event.data, 'retry_at');
  const next =
    event.data['will_retry'] === true
      ? ` It will be tried again${retryAt ? ` at ${clockTime(retryAt)}` : ''}.`
      : attempt !== null && max !== null && attempt >= max
        ? ' No attempts are left.'
        : // Not retried for another reason (an error that no retry helps, a cancel): not "out of attempts".
          ' It will not be tried again.';
  return `${moduleLabel(position)} failed${attemptText}: ${message}.${next}`;
}

/** The sentence (and tone and details) of a module-level event. */
function moduleSentence(
  event: RunEvent,
  position: ModulePosition,
  questions: ReadonlyMap<string, PendingInteraction>,
  attemptsOf: AttemptsOf,
): Pick<TimelineEntry, 'tone' | 'text' | 'details'> | null {
  const label = moduleLabel(position);
  const job = textField(event.data, 'job_id');
  switch (event.event_type) {
    case 'module_started': {
      const attempt = numberField(event.data, 'attempt');
      const inputs = recordField(event.data, 'inputs');
      return {
        tone: 'quiet',
        text: `${label} started${attempt !== null && attempt > 1 ? ` (attempt ${attempt})` : ''}`,
        details:
          inputs && Object.keys(inputs).length > 0 ? { label: 'Inputs', value: inputs } : null,
      };
    }
    case 'module_completed': {
      const outputs = recordField(event.data, 'outputs') ?? {};
      const names = Object.keys(outputs);
      return {
        tone: 'good',
        text:
          names.length === 0
            ? `${label} finished with no outputs`
            : `${label} produced outputs ${names.join(', ')}`,
        details: names.length === 0 ? null : { label: 'Outputs', value: outputs },
      };
    }
    case 'module_skipped':
      return {
        tone: 'quiet',
        text: `${label} was skipped: its condition ${quote(textField(event.data, 'when') ?? '')} was false`,
        details: null,
      };
    case 'module_failed':
      return { tone: 'bad', text: failureText(event, position, attemptsOf), details: null };
    case 'module_interrupted':
      return {
        tone: 'bad',
        text: `${label} was interrupted (attempt ${numberField(event.data, 'attempt') ?? '?'}); it runs again`,
        details: null,
      };
    case 'job_submitted':
      return {
        tone: 'quiet',
        text: `${label} sent job ${job ?? ''} to its provider`,
        details: null,
      };
    case 'job_polled':
      return {
        tone: 'quiet',
        text: `${label}: job ${job ?? ''} is ${textField(event.data, 'status') ?? 'still running'}`,
        details: null,
      };
    case 'job_completed': {
      const files = Array.isArray(event.data['artifact_ids'])
        ? event.data['artifact_ids'].length
        : 0;
      return {
        tone: 'good',
        text: `${label}: the provider’s job finished with ${files} ${files === 1 ? 'file' : 'files'}`,
        details: null,
      };
    }
    case 'job_failed':
      return {
        tone: 'bad',
        text: `${label}: the provider’s job failed: ${errorOf(event.data)?.message ?? 'no message'}`,
        details: null,
      };
    case 'interaction_requested': {
      const question = questions.get(interactionIdOf(event) ?? '');
      return {
        tone: 'plain',
        text: question ? `${label} asked ${askedText(question)}` : `${label} asked a question`,
        details: null,
      };
    }
    default:
      return null;
  }
}

/** The sentence of a run-level event, or of an answer (which a person gives). */
function actedSentence(
  event: RunEvent,
  questions: ReadonlyMap<string, PendingInteraction>,
): { tone: EntryTone; text: string; systemText: string } {
  switch (event.event_type) {
    case 'run_created': {
      const project = textField(event.data, 'project_name');
      const where = project ? ` in project ${project}` : '';
      return {
        tone: 'plain',
        text: `started the run${where}`,
        systemText: `The run started${where}`,
      };
    }
    case 'interaction_responded': {
      const phrase = answerPhrase(
        questions.get(interactionIdOf(event) ?? '') ?? null,
        event.data['response'],
      );
      // A reused answer was given earlier and only repeated now (after a go-back that asked for
      // it): it must not read as an answer just given.
      if (textField(event.data, 'reused_from') !== null) {
        const reused = `${phrase} as before (reused)`;
        return { tone: 'plain', text: reused, systemText: capitalized(reused) };
      }
      return { tone: 'plain', text: phrase, systemText: `Someone ${phrase}` };
    }
    case 'retry_requested': {
      const retry = retryOf(event);
      const what = retry
        ? `asked to retry ${moduleLabel(retry.target)}${retry.feedback ? ` with feedback ${quote(retry.feedback)}` : ''}${reusingAnswers(event.data)}`
        : 'asked for a retry';
      return { tone: 'plain', text: what, systemText: capitalized(what) };
    }
    case 'branch_created': {
      const at = numberField(event.data, 'branch_point_seq');
      const onto = textField(event.data, 'workflow_version_id');
      const what = `started branch ${textField(event.data, 'branch_id') ?? ''} from an earlier point${at !== null ? ` (after event ${at})` : ''}${onto ? `, on version ${onto}` : ''}${reusingAnswers(event.data)}`;
      return { tone: 'plain', text: what, systemText: capitalized(what) };
    }
    case 'version_switched': {
      const restart = positionOf(event.data['restart_at']);
      const what = `switched the run to version ${textField(event.data, 'to_version_id') ?? ''}${restart ? `, going back to ${moduleLabel(restart)}` : ''}${reusingAnswers(event.data)}`;
      return { tone: 'plain', text: what, systemText: capitalized(what) };
    }
    case 'run_resumed':
      return { tone: 'plain', text: 'resumed the run', systemText: 'The run was resumed' };
    case 'run_completed':
      return { tone: 'good', text: 'completed the run', systemText: 'The run completed' };
    case 'run_failed': {
      const message = errorOf(event.data)?.message ?? 'no message';
      return {
        tone: 'bad',
        text: `failed the run: ${message}`,
        systemText: `The run failed: ${message}`,
      };
    }
    case 'run_cancelled':
      return { tone: 'bad', text: 'cancelled the run', systemText: 'The run was cancelled' };
    case 'legacy_event': {
      // Kept verbatim by the migration from the original system (docs/migration-original.md).
      const what = `${textField(event.data, 'legacy_type') ?? 'an event'} (from the original system)`;
      return { tone: 'quiet', text: `recorded ${what}`, systemText: `Recorded ${what}` };
    }
    case 'step_completed':
      return {
        tone: 'quiet',
        text: `finished step ${event.step_id ?? ''}`,
        systemText: `Step ${event.step_id ?? ''} finished`,
      };
    default:
      return {
        tone: 'quiet',
        text: `recorded ${event.event_type}`,
        systemText: `Event ${event.event_type}`,
      };
  }
}

/** Events that only the run itself writes read best without a subject, even with an actor. */
const systemEvents = new Set(['run_completed', 'run_failed', 'step_completed']);

/** One event as an entry, before the links between entries (feedback, retries) are made. */
function entryOf(
  event: RunEvent,
  input: TimelineInput,
  questions: ReadonlyMap<string, PendingInteraction>,
): TimelineEntry {
  const position = eventPosition(event);
  const moduleText = position ? moduleSentence(event, position, questions, input.attemptsOf) : null;
  if (moduleText) return { ...entryBase, event, who: null, via: null, ...moduleText };
  const acted = actedSentence(event, questions);
  const who = systemEvents.has(event.event_type) ? null : actorName(event.actor, input.viewer);
  return {
    ...entryBase,
    event,
    tone: acted.tone,
    who,
    via: who === null ? null : actorVia(event.actor),
    text: who === null ? acted.systemText : acted.text,
  };
}

/** The module outcomes a retry is offered on (the latest of each module). */
const outcomes = new Set(['module_completed', 'module_failed', 'module_skipped']);

/**
 * The timeline of a branch: its events grouped by step (a group per stretch of events in one
 * step; `step_started` opens a group and is not shown on its own), with retry feedback beside
 * the output it led to and at the next question after it, "Answer this again" on past
 * questions, and a retry offered on each module's latest outcome.
 */
export function buildTimeline(input: TimelineInput): TimelineGroup[] {
  const questions = new Map<string, PendingInteraction>();
  const requestedEvent = new Map<string, string>();
  const answered = new Set<string>();
  const seqOf = new Map<string, number>();
  for (const event of input.events) {
    seqOf.set(event.event_id, event.seq);
    const question = questionOf(event);
    if (question) {
      questions.set(question.interaction_id, question);
      requestedEvent.set(question.interaction_id, event.event_id);
    }
    if (event.event_type === 'interaction_responded') answered.add(interactionIdOf(event) ?? '');
  }

  const groups: TimelineGroup[] = [];
  const latestOutcome = new Map<string, TimelineEntry>();
  /** Feedback waiting for its module's next output, by `step.module`. */
  const feedbackForOutput = new Map<string, FeedbackNote>();
  /** Feedback waiting for the next question. */
  let feedbackForQuestion: FeedbackNote | null = null;

  for (const event of input.events) {
    const current = groups.at(-1);
    const stepId = event.step_id;
    if (!current || event.event_type === 'step_started' || current.stepId !== stepId) {
      groups.push({ key: event.event_id, stepId, startedAt: event.timestamp, entries: [] });
    }
    if (event.event_type === 'step_started') continue;
    const entry = entryOf(event, input, questions);
    const position = eventPosition(event);
    const label = position ? moduleLabel(position) : null;

    const retry = retryOf(event);
    if (retry) {
      const target = moduleLabel(retry.target);
      feedbackForOutput.delete(target);
      if (retry.feedback !== null) {
        const note = { module: target, text: retry.feedback };
        feedbackForOutput.set(target, note);
        feedbackForQuestion = note;
      }
    }
    if (event.event_type === 'module_completed' && label !== null) {
      entry.feedback = feedbackForOutput.get(label) ?? null;
      feedbackForOutput.delete(label);
    }
    const interactionId = interactionIdOf(event);
    if (event.event_type === 'interaction_requested' && interactionId !== null) {
      entry.feedback = feedbackForQuestion;
      feedbackForQuestion = null;
      if (interactionId === input.pendingInteractionId) {
        entry.pendingInteractionId = interactionId;
      } else if (!answered.has(interactionId)) {
        // Asked, then passed by (a retry or a branch went elsewhere): it can be asked again.
        entry.answerAgainFrom = event.event_id;
      }
    }
    if (event.event_type === 'interaction_responded' && interactionId !== null) {
      feedbackForQuestion = null;
      entry.answerAgainFrom = requestedEvent.get(interactionId) ?? null;
      const reusedFrom = textField(event.data, 'reused_from');
      if (reusedFrom !== null)
        entry.reusedFrom = { eventId: reusedFrom, seq: seqOf.get(reusedFrom) ?? null };
    }
    if (outcomes.has(event.event_type) && label !== null) latestOutcome.set(label, entry);

    groups.at(-1)?.entries.push(entry);
  }
  for (const entry of latestOutcome.values()) entry.retry = eventPosition(entry.event);
  return groups.filter((group) => group.entries.length > 0);
}

/** A retry, restart or branch that reuses earlier answers says so in its line. */
function reusingAnswers(data: Record<string, unknown>): string {
  return data['reuse_answers'] === true ? ', answering as before what is asked the same way' : '';
}
