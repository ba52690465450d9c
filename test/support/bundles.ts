import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import JSZip from 'jszip';

export const exampleBundleDir = new URL('../../examples/pet-clips/', import.meta.url).pathname;

/** Every file under `dir`, by its path relative to `dir` (always with `/`). */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path).split('\\').join('/'), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

export interface ZipOptions {
  /** Entry timestamps (default: now). */
  date?: Date;
  /** Write the entries in reverse order. */
  reverse?: boolean;
  /** Put everything under one top folder, as zipping a folder by its name does. */
  folder?: string;
  level?: number;
  /** Extra raw entries, added as given (for hostile archives). */
  extra?: Record<string, string | Uint8Array>;
}

/** JSZip's own UTF-8 encoding splits astral characters at its chunk edges; hand it bytes instead. */
const asBytes = (content: Uint8Array | string) =>
  typeof content === 'string' ? Buffer.from(content, 'utf8') : content;

export async function zipFiles(
  files: ReadonlyMap<string, Uint8Array | string>,
  options: ZipOptions = {},
): Promise<Buffer> {
  const zip = new JSZip();
  const entries = [...files.entries()];
  if (options.reverse) entries.reverse();
  for (const [path, bytes] of entries) {
    zip.file(options.folder ? `${options.folder}/${path}` : path, asBytes(bytes), {
      date: options.date ?? new Date(),
      createFolders: false,
    });
  }
  for (const [path, bytes] of Object.entries(options.extra ?? {}))
    zip.file(path, asBytes(bytes), { createFolders: false });
  return zip.generateAsync({
    type: 'nodebuffer',
    compression: 'DEFLATE',
    compressionOptions: { level: options.level ?? 6 },
  });
}

export function exampleBundle(options: ZipOptions = {}): Promise<Buffer> {
  return zipFiles(readTree(exampleBundleDir), options);
}
