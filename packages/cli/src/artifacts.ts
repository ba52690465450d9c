import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ArtifactView } from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { formatSize, formatTime, print, table } from './format.js';

/** `GET /v1/artifacts/{artifact_id}`: an artifact's metadata and where its bytes and preview are. */
type ArtifactDetail = ArtifactView & { content_url?: string; preview_url?: string | null };

async function artifactsOf(client: ApiClient, runId: string): Promise<ArtifactView[]> {
  const { body } = await client.request<{ items: ArtifactView[] }>(
    'GET',
    `/v1/runs/${encodeURIComponent(runId)}/artifacts`,
  );
  return body.items;
}

/** `stepwise artifacts list RUN`: the run's artifacts, oldest first. */
export async function listArtifacts(runId: string): Promise<void> {
  const items = await artifactsOf(await ApiClient.fromStoredLogin(), runId);
  if (items.length === 0) {
    print(`${runId} has no artifacts`);
    return;
  }
  const rows = items.map((artifact) => [
    artifact.artifact_id,
    artifact.name,
    artifact.content_type.split(';')[0] ?? artifact.content_type,
    formatSize(artifact.size),
    `${artifact.step_id}.${artifact.module_name}`,
    formatTime(artifact.created_at),
  ]);
  for (const line of table([['ID', 'NAME', 'TYPE', 'SIZE', 'STEP.MODULE', 'CREATED'], ...rows]))
    print(line);
}

/**
 * `stepwise artifacts RUN [--download [FOLDER]] [--force]`: the list, or every artifact of the run
 * saved into a folder (the current one by default), each under its name. Two artifacts of the same
 * name keep apart: the later ones' files start with their id.
 */
export async function runArtifacts(
  runId: string | undefined,
  options: { download?: string | true; force?: boolean },
): Promise<void> {
  if (runId === undefined)
    throw new CliError('which run? `stepwise artifacts <run> [--download [folder]]`');
  if (options.download === undefined) return listArtifacts(runId);
  const client = await ApiClient.fromStoredLogin();
  const items = await artifactsOf(client, runId);
  if (items.length === 0) {
    print(`${runId} has no artifacts`);
    return;
  }
  const folder = resolve(options.download === true ? '.' : options.download);
  await mkdir(folder, { recursive: true });
  const taken = new Set<string>();
  for (const artifact of items) {
    let fileName = safeFileName(artifact.name, artifact.artifact_id);
    if (taken.has(fileName)) fileName = `${artifact.artifact_id}-${fileName}`;
    taken.add(fileName);
    await saveArtifact(client, artifact.artifact_id, {
      out: join(folder, fileName),
      force: options.force ?? false,
    });
  }
  print(`${items.length} artifact${items.length === 1 ? '' : 's'} of ${runId} saved in ${folder}`);
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
  await saveArtifact(await ApiClient.fromStoredLogin(), artifactId, options);
}

async function saveArtifact(
  client: ApiClient,
  artifactId: string,
  options: { out?: string; force?: boolean },
): Promise<void> {
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
