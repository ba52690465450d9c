import type { Readable } from 'node:stream';
import JSZip from 'jszip';
import { StepwiseError, type ErrorDetail } from '@stepwise/shared';
import type { BundleLimits } from './limits.js';

/** Entries that archivers add on their own; they never count towards the content. */
function isJunk(name: string): boolean {
  const parts = name.split('/');
  return name.endsWith('/') || parts.includes('__MACOSX') || parts.at(-1) === '.DS_Store';
}

const SYMLINK_MODE = 0o120000;
const FILE_TYPE_MASK = 0o170000;

/** Why a path may not be used inside a bundle, or null when it is a plain relative path. */
function unsafePathReason(name: string): string | null {
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('\0')) return 'contains a NUL byte';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is absolute';
  if (name.split('/').some((part) => part === '..')) return 'escapes the bundle root';
  return null;
}

interface InflateBudget {
  total: number;
  readonly maxTotal: number;
  readonly maxFromRatio: number;
}

function tooLarge(message: string): StepwiseError {
  return new StepwiseError('PAYLOAD_TOO_LARGE', message);
}

/**
 * Inflates one entry, counting bytes as they come out, so that a zip bomb is stopped after at most
 * one chunk over the limit, whatever sizes its headers claim.
 */
function inflate(file: JSZip.JSZipObject, budget: InflateBudget): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const stream = file.nodeStream('nodebuffer') as Readable;
    const fail = (error: StepwiseError) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      reject(error);
    };
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      budget.total += chunk.length;
      if (budget.total > budget.maxTotal) {
        fail(tooLarge(`the zip unpacks to more than ${budget.maxTotal} bytes`));
      } else if (budget.total > budget.maxFromRatio) {
        fail(tooLarge('the zip is compressed beyond the allowed ratio (a zip bomb?)'));
      } else chunks.push(chunk);
    });
    stream.on('error', (error: Error) =>
      fail(new StepwiseError('INVALID_ZIP', `entry '${file.name}' is corrupt: ${error.message}`)),
    );
    stream.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * A folder zipped with its folder ("pet-clips/workflow.json") is the same bundle as its contents
 * zipped: when every file sits under one top folder and the entry point is not at the root, that
 * folder is taken as the root.
 */
function stripCommonFolder(
  files: Map<string, Uint8Array>,
  entryPoint: string,
): Map<string, Uint8Array> {
  if (files.has(entryPoint)) return files;
  const tops = new Set([...files.keys()].map((path) => path.split('/')[0]));
  const [top] = tops;
  if (tops.size !== 1 || top === undefined || !files.has(`${top}/${entryPoint}`)) return files;
  return new Map([...files].map(([path, bytes]) => [path.slice(top.length + 1), bytes]));
}

interface LoadedZip {
  zip: JSZip;
  /** Every entry of the central directory, duplicates included. */
  entryCount: number;
  /** Paths (as JSZip normalizes them) that more than one entry has. */
  duplicates: Set<string>;
}

/**
 * Loads the archive's directory (nothing is inflated yet). JSZip keeps one object per normalized
 * path, so of two entries with the same path the last would silently win, while `unzip` extracts
 * the first: one upload would be two different workflows, and a harmless later entry could hide
 * an unsafe earlier one ("a/../workflow.json"). JSZip's loader files each entry by assigning it to
 * `zip.files`; watching those assignments is the one way its API leaves to see every entry.
 */
async function loadZip(bytes: Uint8Array): Promise<LoadedZip> {
  const zip = new JSZip();
  const loaded: LoadedZip = { zip, entryCount: 0, duplicates: new Set() };
  // No prototype, as JSZip's own: an entry named "__proto__" must stay an entry.
  const files = Object.create(null) as Record<string, JSZip.JSZipObject>;
  zip.files = new Proxy(files, {
    set(target, name, value: JSZip.JSZipObject) {
      if (typeof name === 'string') {
        loaded.entryCount++;
        if (Object.hasOwn(target, name)) loaded.duplicates.add(name);
      }
      return Reflect.set(target, name, value);
    },
  });
  try {
    await zip.loadAsync(bytes, { checkCRC32: false, createFolders: false });
  } catch (error) {
    throw new StepwiseError(
      'INVALID_ZIP',
      `not a readable zip archive: ${(error as Error).message}`,
    );
  }
  return loaded;
}

/** The files of a zip bundle that count, by path, read within the limits. */
export async function readZipBundle(
  bytes: Uint8Array,
  entryPoint: string,
  limits: BundleLimits,
): Promise<Map<string, Uint8Array>> {
  const { zip, entryCount, duplicates } = await loadZip(bytes);
  if (entryCount > limits.maxEntries) {
    throw tooLarge(`the zip has ${entryCount} entries; at most ${limits.maxEntries} are allowed`);
  }
  // Repeated folders and junk carry nothing that counts; a repeated file is ambiguous.
  const repeated = [...duplicates].filter((name) => !isJunk(name)).sort();
  if (repeated.length > 0) {
    throw new StepwiseError(
      'INVALID_ZIP',
      `the zip holds more than one entry at ${repeated.map((name) => `'${name}'`).join(', ')}`,
      repeated.map((name) => ({ path: name, message: 'more than one entry has this path' })),
    );
  }
  const entries = Object.values(zip.files);

  const unsafe: ErrorDetail[] = [];
  const counted: JSZip.JSZipObject[] = [];
  for (const entry of entries) {
    // JSZip rewrites "a/../b" to "b" and keeps the name as written here.
    const original = (entry as { unsafeOriginalName?: string }).unsafeOriginalName ?? entry.name;
    const reason = unsafePathReason(original);
    if (reason) {
      unsafe.push({ path: original, message: `entry path ${reason}` });
      continue;
    }
    if (entry.dir || isJunk(entry.name)) continue;
    const mode = typeof entry.unixPermissions === 'number' ? entry.unixPermissions : 0;
    if ((mode & FILE_TYPE_MASK) === SYMLINK_MODE) {
      unsafe.push({ path: entry.name, message: 'symbolic links are not allowed' });
      continue;
    }
    counted.push(entry);
  }
  if (unsafe.length > 0) {
    throw new StepwiseError(
      'WORKFLOW_INVALID',
      `unsafe zip entries: ${unsafe.map((u) => u.path).join(', ')}`,
      unsafe,
    );
  }

  const budget: InflateBudget = {
    total: 0,
    maxTotal: limits.maxUncompressedBytes,
    maxFromRatio: limits.maxCompressionRatio * Math.max(bytes.byteLength, 1024),
  };
  const files = new Map<string, Uint8Array>();
  for (const entry of counted) files.set(entry.name, await inflate(entry, budget));
  return stripCommonFolder(files, entryPoint);
}
