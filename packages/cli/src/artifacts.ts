import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ArtifactView } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';

/** `GET /v1/artifacts/{artifact_id}`: an artifact's metadata and where its bytes and preview are. */
type ArtifactDetail = ArtifactView & { content_url?: string; preview_url?: string | null };

const print = (line = '') => process.stdout.write(`${line}\n`);

/** A size for people: 512 B, 12.3 KB, 4.5 MB (powers of 1024). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Rows of cells as aligned columns (the last column unpadded). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** `stepwise artifacts list RUN`: the run's artifacts, oldest first. */
export async function listArtifacts(runId: string): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const { body } = await client.request<{ items: ArtifactView[] }>(
    'GET',
    `/v1/runs/${encodeURIComponent(runId)}/artifacts`,
  );
  if (body.items.length === 0) {
    print(`${runId} has no artifacts`);
    return;
  }
  const rows = body.items.map((artifact) => [
    artifact.artifact_id,
    artifact.name,
    artifact.content_type.split(';')[0] ?? artifact.content_type,
    formatSize(artifact.size),
    `${artifact.step_id}.${artifact.module_name}`,
    `${artifact.created_at.slice(0, 19).replace('T', ' ')}Z`,
  ]);
  for (const line of table([['ID', 'NAME', 'TYPE', 'SIZE', 'STEP.MODULE', 'CREATED'], ...rows]))
    print(line);
}

/**
 * The artifact's name as a file name in a folder: its last path segment, without control
 * characters; a name that is no file name (empty, `.`, `..`) becomes the artifact's id.
 */
export function safeFileName(name: string, fallback: string): string {
  const last = basename(name.replaceAll('\\', '/'))
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim();
  return last === '' || last === '.' || last === '..' ? fallback : last;
}

/** The name a Content-Disposition header gives (`filename*=UTF-8''…` or `filename="…"`). */
function dispositionName(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*=UTF-8''([^;]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended.trim());
    } catch {
      // a malformed escape: try the plain form
    }
  }
  return /filename="?([^";]+)"?/i.exec(header)?.[1] ?? null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * `stepwise artifacts download ARTIFACT [--out PATH] [--force]`: streams the bytes to a file
 * (by default the artifact's name in the current folder), never over an existing file unless
 * forced, and checks them against the artifact's sha256. The file appears only once complete and
 * checked: the bytes go to a temporary file beside it first.
 */
export async function downloadArtifact(
  artifactId: string,
  options: { out?: string; force?: boolean },
): Promise<void> {
  const client = await ApiClient.fromStoredLogin();
  const encoded = encodeURIComponent(artifactId);
  let detail: ArtifactDetail | null = null;
  try {
    detail = (await client.request<ArtifactDetail>('GET', `/v1/artifacts/${encoded}`)).body;
  } catch (error) {
    // A server without the metadata route still serves the bytes, with the name and the sha256
    // (its ETag) in the headers; an artifact that does not exist is refused by that request too.
    if (!(error instanceof CliError) || error.code !== 'NOT_FOUND') throw error;
  }
  const response = await client.stream(`/v1/artifacts/${encoded}/content`);
  const name =
    detail?.name ?? dispositionName(response.headers.get('content-disposition')) ?? artifactId;
  const target = resolve(options.out ?? safeFileName(name, artifactId));
  const expected = (detail?.sha256 ?? response.headers.get('etag') ?? '')
    .replace(/^W\//, '')
    .replaceAll('"', '');
  if (!options.force && (await exists(target))) {
    // Refused before reading a byte of the body.
    await response.body?.cancel();
    throw new CliError(`${target} exists; use --force to overwrite it`, 'FILE_EXISTS');
  }
  if (!response.body) throw new CliError('the server sent no bytes');

  const partial = join(
    dirname(target),
    `.${basename(target)}.${randomBytes(4).toString('hex')}.part`,
  );
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(partial, { flags: 'wx', mode: 0o644 }),
    );
    const sha256 = hash.digest('hex');
    if (expected !== '' && sha256 !== expected)
      throw new CliError(
        `the bytes received (sha256 ${sha256}) are not the artifact's (sha256 ${expected}); nothing was saved`,
        'CHECKSUM_MISMATCH',
      );
    if (options.force) {
      await rename(partial, target);
    } else {
      // link() refuses an existing name: a file that appeared meanwhile is not overwritten either.
      try {
        await link(partial, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new CliError(`${target} exists; use --force to overwrite it`, 'FILE_EXISTS');
        throw error;
      }
      await unlink(partial);
    }
    print(`saved ${target} (${formatSize(size)})`);
    print(
      expected === ''
        ? `sha256 ${sha256} (the server gave none to check against)`
        : `sha256 ${sha256} (matches the artifact)`,
    );
  } finally {
    await unlink(partial).catch(() => undefined);
  }
}
