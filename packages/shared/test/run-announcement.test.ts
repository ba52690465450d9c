import { describe, expect, it } from 'vitest';
import { decodeRunAnnouncement, encodeRunAnnouncement } from '../src/run-announcement.js';
import type { EventRecord } from '../src/records.js';

function event(seq: number, data: Record<string, unknown> = {}): EventRecord {
  return {
    event_id: `evt_${seq}`,
    workflow_run_id: 'run_1',
    workflow_version_id: 'ver_1',
    branch_id: 'br_1',
    seq,
    event_type: 'module_started',
    step_id: 'step',
    module_name: 'confirm',
    data,
    timestamp: new Date('2025-01-02T03:04:05.678Z'),
    correlation_id: 'corr_1',
    command_id: null,
    actor: { user_id: 'usr_1', key_id: null },
  };
}

describe('run announcements', () => {
  it('carry a commit’s events and read back as the same records', () => {
    const events = [event(4, { a: 1 }), event(5, { nested: { b: [1, 'two'] } })];
    expect(decodeRunAnnouncement(encodeRunAnnouncement(5, events))).toEqual({
      lastSeq: 5,
      events,
    });
  });

  it('write a field the runner left undefined as null, as BSON stores it', () => {
    const decoded = decodeRunAnnouncement(
      encodeRunAnnouncement(1, [event(1, { gone: undefined })]),
    );
    expect(decoded.events?.[0]?.data).toEqual({ gone: null });
  });

  it('say only the seq for a settlement, a commit too big, or one that does not end at last_seq', () => {
    expect(decodeRunAnnouncement(encodeRunAnnouncement(7))).toEqual({ lastSeq: 7, events: null });
    const big = [event(8, { text: 'é'.repeat(40 * 1024) })]; // 80 KiB of UTF-8, 40 Ki characters
    expect(encodeRunAnnouncement(8, big)).toBe('{"last_seq":8}');
    expect(encodeRunAnnouncement(9, [event(8)])).toBe('{"last_seq":9}');
  });

  it('read an older runner’s bare number', () => {
    expect(decodeRunAnnouncement('12')).toEqual({ lastSeq: 12, events: null });
    expect(decodeRunAnnouncement('-1')).toEqual({ lastSeq: -1, events: null });
  });

  it('turn anything else into "look again" rather than events', () => {
    const unusable = { lastSeq: null, events: null };
    expect(decodeRunAnnouncement('')).toEqual(unusable);
    expect(decodeRunAnnouncement('{"last_seq":')).toEqual(unusable);
    expect(decodeRunAnnouncement('{"last_seq":"3"}')).toEqual(unusable);
    const gap = JSON.stringify({ last_seq: 6, events: [event(4), event(6)] });
    expect(decodeRunAnnouncement(gap)).toEqual(unusable);
    const notEnding = JSON.stringify({ last_seq: 9, events: [event(4), event(5)] });
    expect(decodeRunAnnouncement(notEnding)).toEqual(unusable);
    const badType = JSON.stringify({ last_seq: 4, events: [{ ...event(4), event_type: 'nope' }] });
    expect(decodeRunAnnouncement(badType)).toEqual(unusable);
  });
});
