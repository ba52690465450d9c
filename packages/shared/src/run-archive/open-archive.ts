import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import JSZip from 'jszip';
import type { z } from 'zod';
import { StepwiseError, detailsFromZodError, type ErrorDetail } from '../errors.js';
import type {
  ArtifactRecord,
  BranchRecord,
  EventRecord,
  RunCommandRecord,
  TokenUsageRecord,
  WorkflowRunRecord,
} from '../records.js';
import {
  archiveEntryNames,
  archivedDocuments,
  artifactEntryName,
  artifactEntrySha256,
  reviveDates,
  runArchiveManifestSchema,
  type ArchivedDocumentKind,
  type ArchivedTemplate,
  type ArchivedVersion,
  type RunArchiveManifest,
} from './format.js';
import { verifyRunLog } from './verify-log.js';

/** A refused archive: a 400 that says what is wrong, with a detail per problem found. */
export class RunArchiveInvalidError extends StepwiseError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('RUN_ARCHIVE_INVALID', message, details);
  }
}

export interface ArchiveDocuments {
  run: WorkflowRunRecord;
  template: ArchivedTemplate;
  versions: ArchivedVersion[];
  branches: BranchRecord[];
  events: EventRecord[];
  commands: RunCommandRecord[];
  tokens: TokenUsageRecord[];
  artifacts: ArtifactRecord[];
}

export interface OpenedRunArchive {
  manifest: RunArchiveManifest;
  documents: ArchiveDocuments;
  /** The bytes of an artifact entry, streamed (the archive was checked: they hash as named). */
  artifactBytes: (sha256: string) => Readable;
}

export interface OpenArchiveLimits {
  /** The most the JSON documents may hold together, uncompressed (a zip bomb stops there). */
  maxDocumentBytes: number;
}

export const defaultOpenArchiveLimits: OpenArchiveLimits = { maxDocumentBytes: 512 * 1024 * 1024 };

function entryStream(file: JSZip.JSZipObject): Readable {
  // JSZip's stream is an older kind of stream; wrapped, it is a modern Readable (async iterable).
  return new Readable().wrap(file.nodeStream('nodebuffer'));
}

/** Reads an entry whole (bounded by `budget`), with its sha256. */
async function readEntry(
  file: JSZip.JSZipObject,
  budget: { left: number },
): Promise<{ text: string; sha256: string }> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for await (const chunk of entryStream(file)) {
    const bytes = chunk as Buffer;
    budget.left -= bytes.length;
    if (budget.left < 0)
      throw new RunArchiveInvalidError('the archive unpacks to more than the import limit');
    hash.update(bytes);
    chunks.push(bytes);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), sha256: hash.digest('hex') };
}

/** Hashes an entry as it streams, refusing it past `maxBytes` (its recorded size). */
async function hashEntry(
  file: JSZip.JSZipObject,
  maxBytes: number,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of entryStream(file)) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > maxBytes) break;
    hash.update(bytes);
  }
  return { sha256: hash.digest('hex'), size };
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RunArchiveInvalidError(`${where} is not valid JSON`, [
      { path: where, message: 'not valid JSON' },
    ]);
  }
}

function parseRecord<T extends z.ZodType>(
  kind: ArchivedDocumentKind,
  value: unknown,
  where: string,
  problems: ErrorDetail[],
): z.infer<T> | null {
  const { schema, dates } = archivedDocuments[kind];
  const parsed = (schema as z.ZodType).safeParse(reviveDates(value, dates));
  if (parsed.success) return parsed.data as z.infer<T>;
  for (const detail of detailsFromZodError(parsed.error))
    problems.push({
      path: detail.path ? `${where}.${detail.path}` : where,
      message: detail.message,
    });
  return null;
}

function parseLines<T>(
  kind: ArchivedDocumentKind,
  text: string,
  name: string,
  problems: ErrorDetail[],
): T[] {
  const records: T[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const where = `${name}[${index}]`;
    const record = parseRecord<z.ZodType<T>>(kind, parseJson(line, where), where, problems);
    if (record !== null) records.push(record);
  });
  return records;
}

async function loadZip(bytes: Uint8Array): Promise<JSZip> {
  try {
    return await JSZip.loadAsync(bytes, { checkCRC32: true });
  } catch (error) {
    throw new RunArchiveInvalidError(
      `the body is not a readable zip archive: ${(error as Error).message}`,
    );
  }
}

/** Every entry the manifest names is there and nothing else is; names are of known kinds. */
function checkEntryList(zip: JSZip, manifest: RunArchiveManifest): void {
  const present = new Set(
    Object.values(zip.files)
      .filter((file) => !file.dir)
      .map((file) => file.name),
  );
  present.delete(archiveEntryNames.manifest);
  const problems: ErrorDetail[] = [];
  const documentNames = new Set<string>(Object.values(archiveEntryNames));
  for (const name of Object.keys(manifest.entries)) {
    if (!present.has(name))
      problems.push({ path: name, message: 'named by the manifest but missing' });
  }
  for (const name of present) {
    if (!(name in manifest.entries))
      problems.push({ path: name, message: 'an entry the manifest does not name' });
    else if (!documentNames.has(name) && artifactEntrySha256(name) === null)
      problems.push({ path: name, message: 'not an entry of a run archive' });
  }
  for (const name of documentNames) {
    if (name !== archiveEntryNames.manifest && !(name in manifest.entries))
      problems.push({ path: name, message: 'a run archive must have this entry' });
  }
  if (problems.length > 0)
    throw new RunArchiveInvalidError('the archive does not hold what its manifest lists', problems);
}

/**
 * Opens an archive and checks everything before anything is written: the manifest, every entry's
 * sha256 against it, every document against the record schemas, the artifacts against their
 * bytes, and the log (verify-log.ts). Any failure is a RunArchiveInvalidError.
 */
export async function openRunArchive(
  bytes: Uint8Array,
  limits: OpenArchiveLimits = defaultOpenArchiveLimits,
): Promise<OpenedRunArchive> {
  const zip = await loadZip(bytes);
  const budget = { left: limits.maxDocumentBytes };
  const manifestFile = zip.file(archiveEntryNames.manifest);
  if (!manifestFile) throw new RunArchiveInvalidError('the archive has no manifest.json');
  const manifestParsed = runArchiveManifestSchema.safeParse(
    parseJson((await readEntry(manifestFile, budget)).text, archiveEntryNames.manifest),
  );
  if (!manifestParsed.success) {
    throw new RunArchiveInvalidError(
      'manifest.json is not a run archive manifest of a format this server reads',
      detailsFromZodError(manifestParsed.error).map((detail) => ({
        path: `manifest.json.${detail.path}`,
        message: detail.message,
      })),
    );
  }
  const manifest = manifestParsed.data;
  checkEntryList(zip, manifest);

  const texts = new Map<string, string>();
  const hashProblems: ErrorDetail[] = [];
  for (const name of Object.values(archiveEntryNames)) {
    if (name === archiveEntryNames.manifest) continue;
    const file = zip.file(name);
    if (!file) continue;
    const { text, sha256 } = await readEntry(file, budget);
    if (sha256 !== manifest.entries[name])
      hashProblems.push({ path: name, message: 'its sha256 differs from the manifest' });
    texts.set(name, text);
  }
  if (hashProblems.length > 0)
    throw new RunArchiveInvalidError('the archive was altered after export', hashProblems);

  const problems: ErrorDetail[] = [];
  const text = (name: string) => texts.get(name) ?? '';
  const run = parseRecord<typeof archivedDocuments.run.schema>(
    'run',
    parseJson(text(archiveEntryNames.run), archiveEntryNames.run),
    archiveEntryNames.run,
    problems,
  );
  const template = parseRecord<typeof archivedDocuments.template.schema>(
    'template',
    parseJson(text(archiveEntryNames.template), archiveEntryNames.template),
    archiveEntryNames.template,
    problems,
  );
  const lines = <T>(kind: ArchivedDocumentKind, name: string) =>
    parseLines<T>(kind, text(name), name, problems);
  const versions = lines<ArchivedVersion>('versions', archiveEntryNames.versions);
  const branches = lines<BranchRecord>('branches', archiveEntryNames.branches);
  const events = lines<EventRecord>('events', archiveEntryNames.events);
  const commands = lines<RunCommandRecord>('commands', archiveEntryNames.commands);
  const tokens = lines<TokenUsageRecord>('tokens', archiveEntryNames.tokens);
  const artifacts = lines<ArtifactRecord>('artifacts', archiveEntryNames.artifacts);
  if (problems.length > 0 || !run || !template)
    throw new RunArchiveInvalidError('documents of the archive do not parse', problems);

  const documents: ArchiveDocuments = {
    run,
    template,
    versions,
    branches,
    events,
    commands,
    tokens,
    artifacts,
  };
  await checkArtifactFiles(zip, manifest, artifacts);
  const logProblems = verifyRunLog(manifest, documents);
  if (logProblems.length > 0)
    throw new RunArchiveInvalidError('the run log does not verify', logProblems);

  return {
    manifest,
    documents,
    artifactBytes: (sha256) => {
      const file = zip.file(artifactEntryName(sha256));
      if (!file) throw new Error(`artifact entry ${sha256} vanished`);
      return entryStream(file);
    },
  };
}

/** Each artifact has its bytes in the archive, of its size and sha256; no entry is unused. */
async function checkArtifactFiles(
  zip: JSZip,
  manifest: RunArchiveManifest,
  artifacts: readonly ArtifactRecord[],
): Promise<void> {
  const problems: ErrorDetail[] = [];
  const sizes = new Map<string, number>();
  artifacts.forEach((artifact, index) => {
    const known = sizes.get(artifact.sha256);
    if (known !== undefined && known !== artifact.size)
      problems.push({
        path: `artifacts.jsonl[${index}].size`,
        message: 'differs from another artifact with the same sha256',
      });
    sizes.set(artifact.sha256, artifact.size);
    if (!(artifactEntryName(artifact.sha256) in manifest.entries))
      problems.push({
        path: `artifacts.jsonl[${index}].sha256`,
        message: 'no artifacts/<sha256> entry holds these bytes',
      });
  });
  for (const name of Object.keys(manifest.entries)) {
    const sha256 = artifactEntrySha256(name);
    if (sha256 === null) continue;
    if (manifest.entries[name] !== sha256)
      problems.push({ path: name, message: 'the manifest gives it another sha256 than its name' });
    if (!sizes.has(sha256))
      problems.push({ path: name, message: 'no artifact of the run has these bytes' });
  }
  if (problems.length > 0)
    throw new RunArchiveInvalidError('the artifacts do not match their bytes', problems);
  for (const [sha256, size] of sizes) {
    const file = zip.file(artifactEntryName(sha256));
    if (!file) continue;
    const found = await hashEntry(file, size);
    if (found.size !== size || found.sha256 !== sha256)
      problems.push({
        path: artifactEntryName(sha256),
        message: 'its bytes differ from the manifest (size or sha256)',
      });
  }
  if (problems.length > 0)
    throw new RunArchiveInvalidError('the archive was altered after export', problems);
}
