import { posix } from 'node:path';
import {
  StepwiseError,
  findUnstorableKey,
  formatIssuePath,
  type ErrorDetail,
} from '@stepwise/shared';

/** Most `$ref` expansions one workflow may make; a guard against exponential fan-out. */
const MAX_EXPANSIONS = 10_000;

/**
 * Deepest nesting of a resolved workflow. Far beyond any real one, and within the 100 levels
 * MongoDB stores; deeper input would otherwise overflow the stack of every recursive step after
 * this one (hashing, validation, storage) and fail the job instead of refusing the submission.
 */
const MAX_DEPTH = 64;

type JsonPath = readonly (string | number)[];

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeText(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Replaces every `{"$ref": "...", "type": "json"|"text"}` with the file it names, recursively,
 * for a bundle's files. Paths are relative to the file holding the `$ref`; a leading `/` means the
 * bundle root. Errors name the place in the resolved document and the file that holds the `$ref`.
 */
export class ReferenceResolver {
  private readonly errors: ErrorDetail[] = [];
  private expansions = 0;
  private expandedBytes = 0;

  constructor(
    private readonly files: ReadonlyMap<string, Uint8Array>,
    private readonly maxExpandedBytes: number,
  ) {}

  /** The resolved document of `entryPoint`; throws WORKFLOW_INVALID listing every problem. */
  resolveEntry(entryPoint: string): unknown {
    const bytes = this.files.get(entryPoint);
    if (!bytes) {
      throw new StepwiseError(
        'WORKFLOW_INVALID',
        `entry point '${entryPoint}' is not in the bundle`,
        [{ path: entryPoint, message: 'entry point not found' }],
      );
    }
    const document = this.parseJsonFile(entryPoint, bytes, [], []);
    const resolved =
      document === undefined ? undefined : this.walk(document, entryPoint, [], [entryPoint]);
    this.throwIfFailed();
    return resolved;
  }

  /** Resolves `$ref`s inside a document that came without files (a JSON submission). */
  resolveDocument(document: unknown): unknown {
    const storable = this.storable(document, null, []);
    const resolved = storable === undefined ? undefined : this.walk(storable, '', [], []);
    this.throwIfFailed();
    return resolved;
  }

  private throwIfFailed(): void {
    if (this.errors.length === 0) return;
    const summary = this.errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ');
    throw new StepwiseError('WORKFLOW_INVALID', summary, this.errors);
  }

  private fail(path: JsonPath, message: string): undefined {
    this.errors.push({ path: formatIssuePath(path), message });
    return undefined;
  }

  /**
   * `file` parsed, or undefined once its problem is recorded: at `path` (where it is referenced)
   * when it is no JSON, at the key when it holds one that cannot be stored. `at` is where the
   * document lands in the resolved workflow.
   */
  private parseJsonFile(file: string, bytes: Uint8Array, path: JsonPath, at: JsonPath): unknown {
    let text: string;
    try {
      text = decodeText(bytes);
    } catch {
      return this.fail(path, `'${file}' is not valid UTF-8`);
    }
    let document: unknown;
    try {
      document = JSON.parse(text) as unknown;
    } catch (error) {
      return this.fail(path, `'${file}' is not valid JSON: ${(error as Error).message}`);
    }
    return this.storable(document, file, at);
  }

  /**
   * The document, or undefined once its first key that cannot be stored is recorded (a NUL, which
   * MongoDB refuses so the job could never finish, or a reserved name, which would not read back
   * as sent: storable-keys.ts). Checked on each parsed document as it is, before anything copies
   * it. The detail's path is where the key lands in the resolved workflow; the message also names
   * the file and the key's place in that file.
   */
  private storable(document: unknown, file: string | null, at: JsonPath): unknown {
    const inFile = findUnstorableKey(document, '');
    if (!inFile) return document;
    const resolved = findUnstorableKey(document, formatIssuePath(at)) ?? inFile;
    this.errors.push({
      path: resolved.path,
      message:
        file === null ? inFile.message : `${inFile.message} (in '${file}' at ${inFile.path})`,
    });
    return undefined;
  }

  private walk(value: unknown, file: string, path: JsonPath, stack: readonly string[]): unknown {
    if (path.length >= MAX_DEPTH && typeof value === 'object' && value !== null)
      return this.fail(path, `nested more than ${MAX_DEPTH} levels deep`);
    // JSON.parse turns 1e999 into Infinity, which no later step (hashing, diffing, MongoDB's
    // documents as JSON) can represent faithfully.
    if (typeof value === 'number' && !Number.isFinite(value))
      return this.fail(path, 'is not a finite number');
    if (Array.isArray(value))
      return value.map((item, index) => this.walk(item, file, [...path, index], stack));
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    if (Object.hasOwn(record, '$ref')) return this.expand(record, file, path, stack);
    // fromEntries defines own properties, so a "__proto__" key stays data and never a prototype.
    return Object.fromEntries(
      Object.entries(record).map(([key, item]) => [
        key,
        this.walk(item, file, [...path, key], stack),
      ]),
    );
  }

  private expand(
    reference: Record<string, unknown>,
    file: string,
    path: JsonPath,
    stack: readonly string[],
  ): unknown {
    const where = file === '' ? '' : ` in '${file}'`;
    const extra = Object.keys(reference).filter((key) => key !== '$ref' && key !== 'type');
    if (extra.length > 0)
      return this.fail(path, `a $ref object may only hold $ref and type, not ${extra.join(', ')}`);
    const target = reference['$ref'];
    const type = reference['type'] ?? 'json';
    if (typeof target !== 'string' || target === '')
      return this.fail([...path, '$ref'], `$ref must be a non-empty path${where}`);
    if (type !== 'json' && type !== 'text')
      return this.fail([...path, 'type'], `type must be 'json' or 'text'${where}`);
    if (++this.expansions > MAX_EXPANSIONS) {
      throw new StepwiseError('PAYLOAD_TOO_LARGE', `more than ${MAX_EXPANSIONS} $ref expansions`);
    }

    if (target.includes('\\') || target.includes('\0') || /^[A-Za-z]:/.test(target)) {
      return this.fail([...path, '$ref'], `$ref '${target}'${where} is not a bundle path`);
    }
    const joined = target.startsWith('/')
      ? posix.normalize(target.slice(1))
      : posix.normalize(posix.join(posix.dirname(file === '' ? '.' : file), target));
    if (joined === '..' || joined.startsWith('../') || posix.isAbsolute(joined)) {
      return this.fail([...path, '$ref'], `$ref '${target}'${where} escapes the bundle root`);
    }
    const bytes = this.files.get(joined);
    if (!bytes)
      return this.fail([...path, '$ref'], `$ref '${target}'${where}: file '${joined}' not found`);

    this.expandedBytes += bytes.byteLength;
    if (this.expandedBytes > this.maxExpandedBytes) {
      throw new StepwiseError(
        'PAYLOAD_TOO_LARGE',
        `$ref expansion exceeds ${this.maxExpandedBytes} bytes`,
      );
    }
    if (type === 'text') {
      try {
        return decodeText(bytes);
      } catch {
        return this.fail([...path, '$ref'], `'${joined}' is not valid UTF-8 text`);
      }
    }
    if (stack.includes(joined)) {
      return this.fail([...path, '$ref'], `$ref cycle: ${[...stack, joined].join(' → ')}`);
    }
    const document = this.parseJsonFile(joined, bytes, [...path, '$ref'], path);
    return document === undefined
      ? undefined
      : this.walk(document, joined, path, [...stack, joined]);
  }
}
