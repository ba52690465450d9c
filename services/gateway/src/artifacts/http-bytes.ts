import type { Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** True when an If-None-Match header names `etag` (weakly compared, as RFC 9110 says) or is `*`. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const value = candidate.trim().replace(/^W\//, '');
    return value === '*' || value === etag;
  });
}

/** Pipes `source` into the answer; a client that hangs up mid-download is not an error of ours. */
export async function streamTo(source: AsyncIterable<Buffer>, res: Response): Promise<void> {
  await pipeline(Readable.from(source), res).catch((error: unknown) => {
    if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
  });
}
