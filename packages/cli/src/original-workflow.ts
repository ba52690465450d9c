import { readFile, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { CliError } from './api-client.js';

/**
 * `$ref` inclusion as the original system did it when a workflow was uploaded (its
 * workflow_resolver): a node `{"$ref": path, "type": …}` is replaced entirely (sibling keys such
 * as `cache_ttl` are dropped); `type: "json"` parses the file and resolves its own `$ref`s
 * relative to that file's folder; `text`, `jinja2`, `raw` and `template` (the default is `text`)
 * inline the file's text. A leading `/` is from the root folder; no path may leave the root; a
 * cycle is an error.
 */

const TEXT_TYPES = new Set(['text', 'jinja2', 'raw', 'template']);

export class OriginalRefError extends CliError {
  constructor(message: string) {
    super(message, 'REF_INVALID');
  }
}

/** `root`-relative, with forward slashes, for messages. */
function shown(root: string, file: string): string {
  return relative(root, file).split(sep).join('/');
}

async function readText(root: string, file: string, from: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new OriginalRefError(
      `${from}: cannot read '${shown(root, file)}' (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

function parseJson(root: string, file: string, source: string): unknown {
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    throw new OriginalRefError(
      `'${shown(root, file)}' is not valid JSON: ${(error as Error).message}`,
    );
  }
}

class RefResolver {
  constructor(private readonly root: string) {}

  /** The file a `$ref` names, refusing paths that leave the root (symlinks included). */
  private async target(ref: string, folder: string, from: string): Promise<string> {
    if (isAbsolute(ref) && !ref.startsWith('/'))
      throw new OriginalRefError(`${from}: '$ref' ${ref} is an absolute path`);
    const file = ref.startsWith('/') ? join(this.root, ref.slice(1)) : join(folder, ref);
    const escapes = (path: string) => {
      const inside = relative(this.root, path);
      return inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
    };
    if (escapes(file))
      throw new OriginalRefError(`${from}: '$ref' ${ref} leaves the workflow folder`);
    let real: string;
    try {
      real = await realpath(file);
    } catch {
      throw new OriginalRefError(`${from}: '$ref' ${ref} names a file that does not exist`);
    }
    if (escapes(real))
      throw new OriginalRefError(`${from}: '$ref' ${ref} leaves the workflow folder (a link)`);
    return real;
  }

  async file(file: string, chain: readonly string[]): Promise<unknown> {
    const parsed = parseJson(
      this.root,
      file,
      await readText(this.root, file, chain.at(-1) ?? file),
    );
    return this.node(parsed, dirname(file), [...chain, file], '');
  }

  private async node(
    value: unknown,
    folder: string,
    chain: readonly string[],
    at: string,
  ): Promise<unknown> {
    if (Array.isArray(value)) {
      const items: unknown[] = [];
      for (const [index, item] of value.entries())
        items.push(await this.node(item, folder, chain, `${at}[${index}]`));
      return items;
    }
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    const from = `${shown(this.root, chain.at(-1) ?? '')}${at === '' ? '' : ` at ${at}`}`;
    if ('$ref' in record) {
      const ref = record['$ref'];
      if (typeof ref !== 'string') throw new OriginalRefError(`${from}: '$ref' must be a path`);
      const type = record['type'] ?? 'text';
      const file = await this.target(ref, folder, from);
      if (type === 'json') {
        if (chain.includes(file))
          throw new OriginalRefError(
            `a $ref cycle: ${[...chain, file].map((entry) => shown(this.root, entry)).join(' -> ')}`,
          );
        return this.file(file, chain);
      }
      if (typeof type === 'string' && TEXT_TYPES.has(type)) return readText(this.root, file, from);
      throw new OriginalRefError(`${from}: unknown $ref type '${String(type)}'`);
    }
    const entries: [string, unknown][] = [];
    for (const [key, item] of Object.entries(record))
      entries.push([key, await this.node(item, folder, chain, at === '' ? key : `${at}.${key}`)]);
    return Object.fromEntries(entries);
  }
}

/**
 * Reads an original workflow's entry file and resolves every `$ref`. The root is the entry
 * file's folder (the original's zip root).
 */
export async function resolveOriginalWorkflow(entryFile: string): Promise<unknown> {
  let entry: string;
  try {
    entry = await realpath(entryFile);
  } catch {
    throw new OriginalRefError(`cannot read '${entryFile}': no such file`);
  }
  return new RefResolver(dirname(entry)).file(entry, []);
}
