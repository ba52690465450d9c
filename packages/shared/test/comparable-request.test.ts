import { describe, expect, it } from 'vitest';
import { comparableRequest } from '../src/workflow/interaction-requests.js';

describe('comparableRequest', () => {
  const option = (lastUsed: string | null) => ({
    index: 0,
    value: 'cats',
    key: 'cats',
    last_used: lastUsed,
  });

  it('sets aside when an option was last chosen: history, not the question', () => {
    const before = { prompt: 'Pick one', options: [option(null)], min: 1, max: 1 };
    const after = {
      prompt: 'Pick one',
      options: [option('2026-11-30T10:00:00.000Z')],
      min: 1,
      max: 1,
    };
    expect(comparableRequest(after)).toBe(comparableRequest(before));
  });

  it('tells apart anything else, however deep, and ignores the order of keys', () => {
    const base = { prompt: 'Pick one', options: [option(null)] };
    expect(comparableRequest({ ...base, prompt: 'Pick two' })).not.toBe(comparableRequest(base));
    expect(
      comparableRequest({ prompt: 'Pick one', options: [{ ...option(null), value: 'dogs' }] }),
    ).not.toBe(comparableRequest(base));
    expect(comparableRequest({ options: base.options, prompt: base.prompt })).toBe(
      comparableRequest(base),
    );
  });
});
