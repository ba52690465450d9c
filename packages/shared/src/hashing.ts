import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export type ContentHash = `sha256:${string}`;

/** A JSON submission's identity: reformatting it or reordering its keys does not change it. */
export function contentHashOfJson(value: unknown): ContentHash {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}

/**
 * A zip submission's identity: the sorted (path, sha256) list of the files that count, so that
 * re-zipping the same tree (other timestamps, other entry order, other compression) is the same
 * version. The entry point is part of it: one tree read from two entry files is two workflows.
 */
export function contentHashOfFiles(
  files: ReadonlyMap<string, Uint8Array>,
  entryPoint: string,
): ContentHash {
  const manifest = [...files.entries()]
    .map(([path, bytes]) => [path, sha256Hex(bytes)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, hash]) => `${hash}  ${path}\n`)
    .join('');
  return `sha256:${sha256Hex(`entry ${entryPoint}\n${manifest}`)}`;
}
