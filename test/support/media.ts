import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import sharp from 'sharp';
import { expect } from 'vitest';
import type { RunView } from '@stepwise/shared';
import type { TestDatabases } from './databases.js';
import type { RunsClient } from './runs.js';

/** Helpers of the media tests (docs/media.md): real images, raw uploads, what storage holds. */

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A real PNG of `width`×`height` (a gradient-ish fill, so it is not trivially compressible). */
export function pngImage(width: number, height: number): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 3, background: { r: 200, g: 90, b: 30 } },
  })
    .png()
    .toBuffer();
}

export function jpegImage(width: number, height: number): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 3, background: { r: 20, g: 120, b: 230 } },
  })
    .jpeg()
    .toBuffer();
}

export function gifImage(width: number, height: number): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 3, background: { r: 0, g: 0, b: 0 } },
  })
    .gif()
    .toBuffer();
}

/** The first bytes of a WebM file (EBML header, doctype `webm`), padded to `size` bytes. */
export function webmBytes(size: number): Buffer {
  const header = Buffer.from([
    0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81,
    0x04, 0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d,
  ]);
  const bytes = Buffer.alloc(size);
  header.copy(bytes);
  for (let i = header.length; i < size; i++) bytes[i] = (i * 31 + 7) % 251;
  return bytes;
}

/** What storage holds for artifacts: rows, and GridFS files and chunks (the `artifacts` bucket). */
export async function storedArtifacts(db: TestDatabases) {
  const mongo = db.mongo.db;
  if (!mongo) throw new Error('not connected');
  return {
    rows: await db.models.artifacts.countDocuments({}),
    files: await mongo.collection('artifacts.files').countDocuments({}),
    chunks: await mongo.collection('artifacts.chunks').countDocuments({}),
  };
}

export interface RawAnswer {
  /** Absent when the connection closed before an answer could be read. */
  status?: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Bytes of the body handed to the socket before the answer (or the close). */
  sent: number;
  /** The socket error, when the server closed the connection on us. */
  error?: string;
}

export interface UploadOptions {
  token: string;
  headers?: Record<string, string>;
  /** Declared length; with `body` absent, nothing is sent after the headers. */
  contentLength?: number;
  /** Chunks to send, in order; produced lazily so that a huge body is never held. */
  body?: Iterable<Buffer>;
}

/**
 * POSTs a body chunk by chunk over node:http (chunked unless a length is declared), stopping as
 * soon as an answer arrives or the server closes the connection: a refused upload must not have
 * to be sent to its end. Resolves with what came back, tolerating the close.
 */
export function postRaw(url: string, options: UploadOptions): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let sent = 0;
    let finished = false;
    let answered = false;
    const done = (answer: Omit<RawAnswer, 'sent'>) => {
      if (finished) return;
      finished = true;
      outgoing.destroy();
      resolve({ ...answer, sent });
    };
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.token}`,
      ...options.headers,
    };
    if (options.contentLength !== undefined)
      headers['content-length'] = String(options.contentLength);
    const outgoing = request(url, { method: 'POST', headers }, (incoming) => {
      answered = true;
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      const answer = (error?: string) =>
        done({
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: Buffer.concat(chunks),
          ...(error ? { error } : {}),
        });
      incoming.on('end', () => answer());
      incoming.on('error', (error) => answer(error.message));
      incoming.on('aborted', () => answer('aborted'));
    });
    outgoing.on('error', (error) => {
      if (!answered) done({ headers: {}, body: Buffer.alloc(0), error: error.message });
    });
    const pump = async () => {
      for (const chunk of options.body ?? []) {
        if (finished || answered || outgoing.destroyed) return;
        sent += chunk.length;
        if (!outgoing.write(chunk)) {
          await new Promise<void>((resume) => {
            const events = ['drain', 'close', 'response'] as const;
            const wake = () => {
              for (const event of events) outgoing.off(event, wake);
              resume();
            };
            for (const event of events) outgoing.on(event, wake);
          });
        }
      }
      if (!finished && !outgoing.destroyed && options.body !== undefined) outgoing.end();
    };
    if (options.body === undefined) outgoing.flushHeaders();
    else void pump();
  });
}

/** `count` chunks of `size` bytes, the first starting with `prefix` (a file's real header). */
export function* chunksOf(prefix: Buffer, size: number, count: number): Generator<Buffer> {
  const filler = Buffer.alloc(size, 0x5a);
  for (let i = 0; i < count; i++) {
    if (i === 0) {
      const first = Buffer.alloc(size, 0x5a);
      prefix.copy(first);
      yield first;
    } else yield filler;
  }
}

/** The gateway process's resident memory, as /proc reports it. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

/** A workflow that asks for files, then asks to confirm (so the run waits again after). */
export function fileQuestionWorkflow(
  id: string,
  inputs: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    workflow_id: id,
    initial_state: {},
    steps: [
      {
        step_id: 'photo',
        modules: [
          {
            module_id: 'user.file_input',
            name: 'photos',
            inputs: {
              prompt: 'Your photos',
              accept: ['image/png', 'image/jpeg'],
              max_files: 2,
              ...inputs,
            },
            outputs_to_state: { artifact_ids: 'photo_ids', artifacts: 'photos' },
          },
        ],
      },
      {
        step_id: 'done',
        modules: [
          {
            module_id: 'user.confirm',
            name: 'ok',
            inputs: { message: 'Use {{ state.photo_ids | size }} photos?' },
          },
        ],
      },
    ],
  };
}

/** Starts a run of `versionId` and waits until it asks its first question. */
export async function startWaitingRun(client: RunsClient, versionId: string): Promise<RunView> {
  const { status, run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=20000');
  expect(status, JSON.stringify(run)).toBe(201);
  expect(run.status, JSON.stringify(run.error)).toBe('awaiting_input');
  return run;
}
