import { describe, expect, it } from 'vitest';
import { mapError } from '../src/http/error-mapping.js';

/**
 * While a Redis Cluster fails over, a request's Redis command can be refused for a few seconds
 * (the client's slot map is out of date, or the slot has no master yet). That is the backing
 * service being unavailable: 503, retry later, not an unexpected 500.
 */
describe('errors from a Redis Cluster during a failover', () => {
  it.each([
    'Too many Cluster redirections. Last error: ReplyError: MOVED 4555 127.0.0.1:7300',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    "READONLY You can't write against a read only replica.",
    'MOVED 4555 127.0.0.1:7300',
  ])('answers 503 for %s', (message) => {
    const mapped = mapError(new Error(message));
    expect(mapped).toMatchObject({ status: 503, unexpected: false });
    expect(mapped.envelope.error.code).toBe('UNAVAILABLE');
  });

  it('still answers 500 for an error nobody anticipated', () => {
    for (const message of ['something MOVED elsewhere', 'E11000 dup key: { k: "READONLY " }'])
      expect(mapError(new Error(message))).toMatchObject({ status: 500, unexpected: true });
  });
});
