import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  NotFoundError,
  StepwiseError,
  detailsFromZodError,
  errorCatalog,
  errorEnvelopeSchema,
  formatIssuePath,
  isStepwiseError,
} from '../src/errors.js';

describe('error table', () => {
  it('gives every code of api.md its documented status', () => {
    const documented: Record<string, number> = {
      BAD_REQUEST: 400,
      INVALID_ZIP: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      // api.md, "Contract decisions added later".
      METHOD_NOT_ALLOWED: 405,
      VERSION_MISMATCH: 409,
      INTERACTION_NOT_PENDING: 409,
      POSITION_NOT_IN_VERSION: 409,
      RUN_FINISHED: 409,
      CONFLICT: 409,
      PAYLOAD_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
      WORKFLOW_INVALID: 422,
      INTERACTION_INVALID: 422,
      RATE_LIMITED: 429,
      UNAVAILABLE: 503,
    };
    for (const [code, status] of Object.entries(documented)) {
      expect(errorCatalog[code as keyof typeof errorCatalog]?.status, code).toBe(status);
    }
    // Our additions: an unexpected failure still answers in the envelope; people.md's
    // invitations and PUBLIC_URL need a code each (docs/people.md); media.md's range requests
    // answer 416 (docs/media.md); a run archive that does not verify has its own (docs/run-export.md).
    expect(Object.keys(errorCatalog).sort()).toEqual(
      [
        ...Object.keys(documented),
        'INTERNAL',
        'INVITATION_INVALID',
        'NOT_CONFIGURED',
        'RUN_ARCHIVE_INVALID',
        'RANGE_NOT_SATISFIABLE',
      ].sort(),
    );
  });

  it('builds envelopes that match the documented shape', () => {
    const envelope = new NotFoundError('run', 'run_1').toEnvelope();
    expect(errorEnvelopeSchema.parse(envelope)).toEqual({
      error: { code: 'NOT_FOUND', message: "run 'run_1' not found" },
    });
  });

  it('recognises an error that lost its prototype crossing a queue', () => {
    const crossed: unknown = JSON.parse(
      JSON.stringify({
        ...new StepwiseError('CONFLICT', 'taken'),
        name: 'StepwiseError',
        message: 'taken',
      }),
    );
    expect(isStepwiseError(crossed)).toBe(true);
    expect(isStepwiseError({ name: 'StepwiseError', code: 'NOPE', message: 'x' })).toBe(false);
    expect(isStepwiseError(new Error('plain'))).toBe(false);
  });

  it('names paths the way api.md shows them', () => {
    expect(formatIssuePath(['steps', 2, 'modules', 0, 'module_id'])).toBe(
      'steps[2].modules[0].module_id',
    );
    const result = z.object({ a: z.array(z.number()) }).safeParse({ a: [1, 'x'] });
    expect(result.success).toBe(false);
    if (!result.success) expect(detailsFromZodError(result.error)[0]?.path).toBe('a[1]');
  });
});
