import { z } from 'zod';
import { eventRecordSchema, type EventRecord } from './records.js';

/**
 * What a runner publishes on a run's channel (runChannel) after a commit or a settlement. The
 * events of a commit ride along, so that a stream following the run can send them without reading
 * the log again; they are announced only once they are in the log, so a reader that misses an
 * announcement finds them there.
 *
 * On the wire: `{"last_seq":N,"events":[…]}`, or `{"last_seq":N}` when the commit wrote nothing
 * (a settlement) or its events are too big to announce. Runners before this format publish the
 * bare number; gateways accept both.
 */
export interface RunAnnouncement {
  /** The run's last committed seq as the publisher knew it; null when the message said nothing usable. */
  lastSeq: number | null;
  /** The events of the commit, contiguous and ending at `lastSeq`; null when not announced. */
  events: readonly EventRecord[] | null;
}

/**
 * The most a commit's events may take in an announcement, in bytes of JSON: every gateway
 * following the run receives the message, and Redis buffers it per subscriber. Larger commits are
 * announced by their seq alone and read from the log.
 */
export const MAX_ANNOUNCED_EVENTS_BYTES = 64 * 1024;

/** An event as JSON carries its timestamp: the same ISO string that Date#toJSON writes. */
const announcedEventSchema = eventRecordSchema.extend({
  timestamp: z.iso.datetime().transform((value) => new Date(value)),
});

const announcementSchema = z
  .object({
    last_seq: z.number().int().min(-1),
    events: z.array(announcedEventSchema).min(1).optional(),
  })
  .refine(
    ({ last_seq: lastSeq, events }) =>
      !events || events.every((event, i) => event.seq === lastSeq - events.length + 1 + i),
    { message: 'announced events must be contiguous and end at last_seq' },
  );

/**
 * BSON stores an `undefined` field as null while JSON drops it; writing null here keeps the
 * announced event the same as the one read back from the log.
 */
const asStored = (_key: string, value: unknown): unknown => (value === undefined ? null : value);

/** The message for a commit that reached `lastSeq` (with its events, when given and small enough). */
export function encodeRunAnnouncement(
  lastSeq: number,
  events: readonly EventRecord[] = [],
  maxBytes = MAX_ANNOUNCED_EVENTS_BYTES,
): string {
  const bare = JSON.stringify({ last_seq: lastSeq });
  if (events.length === 0 || events.at(-1)?.seq !== lastSeq) return bare;
  let full: string;
  try {
    full = JSON.stringify({ last_seq: lastSeq, events }, asStored);
  } catch {
    return bare; // Something JSON cannot hold (a BigInt): the log has it.
  }
  // Counting bytes costs an encode, needed only when the characters alone could exceed the limit.
  const bytes = full.length * 3 <= maxBytes ? full.length : new TextEncoder().encode(full).length;
  return bytes <= maxBytes ? full : bare;
}

const nothingUsable: RunAnnouncement = { lastSeq: null, events: null };

/** Reads a run channel message; never throws (what it cannot read says only "look again"). */
export function decodeRunAnnouncement(message: string): RunAnnouncement {
  if (/^-?\d{1,15}$/.test(message)) return { lastSeq: Number(message), events: null };
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return nothingUsable;
  }
  const parsed = announcementSchema.safeParse(json);
  if (!parsed.success) return nothingUsable;
  return { lastSeq: parsed.data.last_seq, events: parsed.data.events ?? null };
}
