import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import JSZip from 'jszip';
import type { Connection } from 'mongoose';
import { NotFoundError } from '../errors.js';
import type {
  ArtifactRecord,
  BranchRecord,
  EventRecord,
  RunCommandRecord,
  TokenUsageRecord,
  WorkflowRunRecord,
} from '../records.js';
import { eventDataOf } from '../runs/event-data.js';
import type { Models } from '../models/index.js';
import { readBucketFile, readResolvedWorkflow } from '../models/workflow-storage.js';
import {
  RUN_ARCHIVE_FORMAT,
  RUN_ARCHIVE_FORMAT_VERSION,
  archiveEntryNames,
  artifactEntryName,
  toArchiveJson,
  toJsonLines,
  type ArchivedTemplate,
  type ArchivedVersion,
  type RunArchiveManifest,
} from './format.js';

export interface RunArchiveDependencies {
  mongo: Connection;
  models: Models;
}

export interface RunToExport {
  runId: string;
  userId: string;
}

export interface RunExport {
  /** A name to save the archive under. */
  fileName: string;
  manifest: RunArchiveManifest;
  /** The zip, produced as it is read: artifacts stream from GridFS one chunk batch at a time. */
  stream: Readable;
}

/**
 * The run's documents as the archive holds them. Read before a byte is streamed, so that an
 * unknown run is a 404 and not a broken download. Artifact bytes are not read here.
 */
async function collectRun(deps: RunArchiveDependencies, { runId, userId }: RunToExport) {
  const { models } = deps;
  const run = await models.runs.findOne({ user_id: userId, workflow_run_id: runId }).lean();
  if (!run) throw new NotFoundError('run', runId);
  const owned = { workflow_run_id: runId };
  const [stored, storedBranches, commands, tokens, artifacts, template] = await Promise.all([
    models.events
      .find({ ...owned, seq: { $lte: run.last_seq } })
      .sort({ seq: 1 })
      .lean<EventRecord[]>(),
    models.branches.find(owned).sort({ created_at: 1, branch_id: 1 }).lean<BranchRecord[]>(),
    // Commands accepted but not applied yet are left out: the archive is the run as committed.
    models.runCommands
      .find({ ...owned, seq: { $lte: run.applied_command_seq } })
      .sort({ seq: 1 })
      .lean<RunCommandRecord[]>(),
    models.tokens.find(owned).sort({ created_at: 1 }).lean<TokenUsageRecord[]>(),
    models.artifacts.find(owned).sort({ created_at: 1 }).lean<ArtifactRecord[]>(),
    models.templates
      .findOne({ user_id: userId, workflow_template_id: run.workflow_template_id })
      .lean(),
  ]);
  const events = withOutbox(stored, run);
  const branches = withUnmirroredBranches(storedBranches, events, run);
  const versions = await collectVersions(deps, run, events);
  const archivedTemplate: ArchivedTemplate = {
    workflow_template_name: run.workflow_template_name,
    display_name: template?.display_name ?? null,
    created_at: template?.created_at ?? run.created_at,
  };
  return {
    run: committedRun(run),
    template: archivedTemplate,
    versions,
    branches,
    events,
    // A client's Idempotency-Key claim belongs to the server (and user) it was sent to.
    commands: commands.map(({ client_request_key: _key, ...command }) => command),
    tokens,
    artifacts,
  };
}

/** The events of the latest commit may not be mirrored into `events` yet: the outbox has them. */
function withOutbox(stored: EventRecord[], run: WorkflowRunRecord): EventRecord[] {
  const seen = new Set(stored.map((event) => event.seq));
  const missing = run.outbox.filter((event) => !seen.has(event.seq) && event.seq <= run.last_seq);
  if (missing.length === 0) return stored;
  return [...stored, ...missing].sort((a, b) => a.seq - b.seq);
}

/** Likewise a branch whose `branch_created` was committed but not yet mirrored. */
function withUnmirroredBranches(
  stored: BranchRecord[],
  events: readonly EventRecord[],
  run: WorkflowRunRecord,
): BranchRecord[] {
  const known = new Set(stored.map((branch) => branch.branch_id));
  const added: BranchRecord[] = [];
  for (const event of events) {
    const data = eventDataOf(event, 'branch_created');
    if (!data || known.has(data.branch_id)) continue;
    known.add(data.branch_id);
    added.push({
      branch_id: data.branch_id,
      workflow_run_id: event.workflow_run_id,
      parent_branch_id: data.parent_branch_id,
      branch_point_event_id: data.branch_point_event_id,
      lineage: data.lineage ?? [],
      status: 'inactive',
      created_at: event.timestamp,
    });
  }
  // The run document says which branch is active; the records follow it.
  return [...stored, ...added].map((branch) => ({
    ...branch,
    status: branch.branch_id === run.active_branch_id ? 'active' : 'inactive',
  }));
}

/** The run as committed, without what belongs to the server it runs on (lease, timers, outbox). */
function committedRun(run: WorkflowRunRecord): WorkflowRunRecord {
  const {
    lease_holder: _holder,
    lease_expires_at: _expires,
    wake_at: _wakeAt,
    wake_seq: _wakeSeq,
    lease_fence: _fence,
    ...rest
  } = run;
  const rejection = run.last_rejection;
  return {
    ...rest,
    outbox: [],
    command_seq: run.applied_command_seq,
    last_rejection:
      rejection && rejection.command_seq <= run.applied_command_seq ? rejection : null,
  };
}

/** Every version the run names (its own fields, each event's, switches and forks onto one). */
async function collectVersions(
  deps: RunArchiveDependencies,
  run: WorkflowRunRecord,
  events: readonly EventRecord[],
): Promise<ArchivedVersion[]> {
  const ids = new Set([run.initial_version_id, run.current_version_id, run.snapshot.version_id]);
  for (const event of events) {
    ids.add(event.workflow_version_id);
    const switched = eventDataOf(event, 'version_switched');
    if (switched) ids.add(switched.from_version_id).add(switched.to_version_id);
    const forked = eventDataOf(event, 'branch_created')?.workflow_version_id;
    if (forked) ids.add(forked);
  }
  ids.delete('');
  const versions = await deps.models.versions
    .find({ user_id: run.user_id, workflow_version_id: { $in: [...ids] } })
    .sort({ created_at: 1, workflow_version_id: 1 })
    .lean();
  const found = new Set(versions.map((version) => version.workflow_version_id));
  const missing = [...ids].filter((id) => !found.has(id));
  if (missing.length > 0)
    throw new Error(
      `run ${run.workflow_run_id} names versions that are gone: ${missing.join(', ')}`,
    );
  const archived: ArchivedVersion[] = [];
  for (const version of versions) {
    archived.push({
      ...version,
      resolved_workflow: await readResolvedWorkflow(deps.mongo, version),
      resolved_workflow_ref: null,
      source_file_id: null,
    });
  }
  return archived;
}

function sha256Of(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A GridFS file's bytes, checked against the sha256 the log recorded for them on the way: bytes
 * that do not match would make an archive no importer accepts, so the download fails instead.
 */
async function* checkedBytes(
  connection: Connection,
  fileId: string,
  sha256: string,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of readBucketFile(connection, 'artifacts', fileId)) {
    hash.update(chunk);
    yield chunk;
  }
  if (hash.digest('hex') !== sha256)
    throw new Error(`artifact file ${fileId} does not hash to its recorded sha256`);
}

/**
 * The run as one zip (docs/run-export.md). The documents are built in memory (they are the run's
 * log and metadata); the artifacts' bytes are streamed into the zip as it is read, stored
 * uncompressed, each distinct content once.
 */
export async function exportRun(
  deps: RunArchiveDependencies,
  target: RunToExport,
  now = new Date(),
): Promise<RunExport> {
  const documents = await collectRun(deps, target);
  const texts: [string, string][] = [
    [archiveEntryNames.run, toArchiveJson(documents.run)],
    [archiveEntryNames.template, toArchiveJson(documents.template)],
    [archiveEntryNames.versions, toJsonLines(documents.versions)],
    [archiveEntryNames.branches, toJsonLines(documents.branches)],
    [archiveEntryNames.events, toJsonLines(documents.events)],
    [archiveEntryNames.commands, toJsonLines(documents.commands)],
    [archiveEntryNames.tokens, toJsonLines(documents.tokens)],
    [archiveEntryNames.artifacts, toJsonLines(documents.artifacts)],
  ];
  const files = new Map<string, ArtifactRecord>();
  for (const artifact of documents.artifacts)
    if (!files.has(artifact.sha256)) files.set(artifact.sha256, artifact);

  const entries: Record<string, string> = {};
  for (const [name, text] of texts) entries[name] = sha256Of(text);
  for (const sha256 of files.keys()) entries[artifactEntryName(sha256)] = sha256;
  const manifest: RunArchiveManifest = {
    format: RUN_ARCHIVE_FORMAT,
    format_version: RUN_ARCHIVE_FORMAT_VERSION,
    exported_at: now.toISOString(),
    source: {
      workflow_run_id: documents.run.workflow_run_id,
      user_id: documents.run.user_id,
      workflow_template_name: documents.run.workflow_template_name,
    },
    counts: {
      versions: documents.versions.length,
      branches: documents.branches.length,
      events: documents.events.length,
      commands: documents.commands.length,
      tokens: documents.tokens.length,
      artifacts: documents.artifacts.length,
      artifact_files: files.size,
    },
    entries,
  };

  const zip = new JSZip();
  const date = now;
  zip.file(archiveEntryNames.manifest, JSON.stringify(manifest, null, 2), { date });
  for (const [name, text] of texts) zip.file(name, text, { date });
  for (const [sha256, artifact] of files) {
    zip.file(
      artifactEntryName(sha256),
      Readable.from(checkedBytes(deps.mongo, artifact.file_id, sha256)),
      { binary: true, compression: 'STORE', date },
    );
  }
  // JSZip's stream is an older kind of stream; wrapped, it is a modern Readable (async iterable).
  const stream = new Readable().wrap(
    zip.generateNodeStream({ type: 'nodebuffer', streamFiles: true, compression: 'DEFLATE' }),
  );
  return { fileName: `${documents.run.workflow_run_id}.zip`, manifest, stream };
}

export interface RunArchiveFile {
  path: string;
  /** sha256 of the whole archive file. */
  sha256: string;
  bytes: number;
}

/**
 * Exports the run into a file in `dir` (created if missing), for retention's "export first":
 * written under a temporary name and renamed once whole, so a file with the final name is complete.
 */
export async function exportRunToFile(
  deps: RunArchiveDependencies,
  target: RunToExport & { dir: string },
): Promise<RunArchiveFile> {
  const exported = await exportRun(deps, target);
  await mkdir(target.dir, { recursive: true });
  const path = join(target.dir, exported.fileName);
  const partial = `${path}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(exported.stream, measure, createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { path, sha256: hash.digest('hex'), bytes };
}
