import type { ErrorDetail } from '@stepwise/shared';
import type { z } from 'zod';

/** A response that does not parse, as `{path, message}` details rooted at `response`. */
export function responseErrors(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: ['response', ...issue.path].join('.'),
    message: issue.message,
  }));
}
