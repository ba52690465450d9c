import type { NextFunction, Request, Response } from 'express';
import { StepwiseError } from '@stepwise/shared';

/**
 * Refuses a body whose declared Content-Length is over `maxBytes` before anything reads it. The
 * body parsers enforce the same limits, but they drain the whole request before answering (so a
 * client declaring a gigabyte would be read, if not kept, to the end first); they still catch
 * chunked bodies, which declare no length, at the limit. Bytes a refused client goes on sending
 * are discarded by Node, not buffered.
 */
export function refuseDeclaredOversize(maxBytes: number) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const declared = Number(req.get('content-length') ?? 0);
    if (declared > maxBytes) {
      return next(
        new StepwiseError('PAYLOAD_TOO_LARGE', `request body is larger than ${maxBytes} bytes`),
      );
    }
    next();
  };
}
