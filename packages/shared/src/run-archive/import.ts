import type { Readable } from 'node:stream';
import { canonicalJson } from '../canonical-json.js';
import { ConflictError } from '../errors.js';
import { newId } from '../ids.js';
import { eventDataOf } from '../runs/event-data.js';
import type { ArtifactRecord, WorkflowTemplateRecord, WorkflowVersionRecord } from '../records.js';
import { streamIntoBucket } from '../models/streamed-files.js';
import {
  deleteFromBucket,
  readResolvedWorkflow,
  uploadToBucket,
} from '../models/workflow-storage.js';
import type { RunArchiveDependencies } from './export.js';
import {
  defaultOpenArchiveLimits,
  openRunArchive,
  type ArchiveDocuments,
  type OpenArchiveLimits,
} from './open-archive.js';
import type { ArchivedVersion } from './format.js';
import { IdRenamer } from './remap.js';

export interface RunImport {
  bytes: Uint8Array;
  /** Whose run it becomes (the caller, or the user an admin imports for). */
  targetUserId: string;
  limits?: OpenArchiveLimits;
  /** Resolved workflows larger than this go to GridFS, as the resolver stores them. */
  inlineLimitBytes?: number;
  now?: Date;
}

export interface ImportedRun {
  run_id: string;
  workflow_template_id: string;
  workflow_template_name: string;
  /** Every id the archive held (run, user, template, versions, branches, events, commands, questions, artifacts) → its id here. */
  id_map: Record<string, string>;
}

/** What the import wrote, so that a failure can take it all back. */
interface Written {
  templateId: string | null;
  versionIds: string[];
  resolvedRefs: string[];
  artifactFiles: string[];
  artifactIds: string[];
  /** The run id whose log this import claimed (its branches are in); null before the claim. */
  claimedRunId: string | null;
  runWritten: boolean;
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown }).code === 11000;
}

/** Another import took the run id between the check and the claim (the same archive, at once). */
class ClaimLost extends Error {}

/**
 * Imports a run archive for `targetUserId` (docs/run-export.md). The archive is checked whole
 * first (open-archive.ts); then ids are chosen (kept when free here, new otherwise), every
 * document renamed, and the documents written, the run document last: until it exists no route
 * shows the run, and a failure before it removes what was written.
 */
export async function importRun(
  deps: RunArchiveDependencies,
  input: RunImport,
): Promise<ImportedRun> {
  const archive = await openRunArchive(input.bytes, input.limits ?? defaultOpenArchiveLimits);
  const { documents } = archive;
  const now = input.now ?? new Date();
  const renames = new Map<string, string>([[documents.run.user_id, input.targetUserId]]);
  const written: Written = {
    templateId: null,
    versionIds: [],
    resolvedRefs: [],
    artifactFiles: [],
    artifactIds: [],
    claimedRunId: null,
    runWritten: false,
  };
  try {
    const template = await findOrCreateTemplate(deps, documents, input.targetUserId, now, written);
    renames.set(documents.run.workflow_template_id, template.workflow_template_id);
    await placeVersions(deps, documents, template, input, renames, written);
    for (let attempt = 0; ; attempt++) {
      await chooseRunIds(deps, documents, input.targetUserId, renames, attempt > 0);
      try {
        await claimLog(deps, documents, new IdRenamer(renames), written);
        break;
      } catch (error) {
        // Lost to an import of the same run that kept its ids: this one takes new ones.
        if (!(error instanceof ClaimLost) || attempt > 0) throw error;
      }
    }
    await claimArtifactIds(
      deps,
      documents,
      renames,
      {
        workflow_run_id:
          renames.get(documents.run.workflow_run_id) ?? documents.run.workflow_run_id,
        user_id: input.targetUserId,
      },
      written,
    );
    const renamer = new IdRenamer(renames);
    await writeArtifacts(deps, documents, renamer, archive.artifactBytes, written);
    await writeLog(deps, documents, renamer);
    const run = renamer.value(documents.run);
    await deps.models.runs.collection.insertOne({ ...run });
    written.runWritten = true;
    return {
      run_id: run.workflow_run_id,
      workflow_template_id: template.workflow_template_id,
      workflow_template_name: template.workflow_template_name,
      id_map: Object.fromEntries(renames),
    };
  } catch (error) {
    if (!written.runWritten) await takeBack(deps, written, input.targetUserId);
    throw error;
  }
}

/**
 * Run, branch, event and command ids are kept when the run id is free here (no run of the target
 * user, and no log, branch or command of any run, bears it): they are unique within their run,
 * and the run is new. Otherwise (or when `renameAll`) all are new. Artifact ids are global (GET
 * /v1/artifacts/{id}): each is kept when no artifact here has it.
 */
async function chooseRunIds(
  deps: RunArchiveDependencies,
  documents: ArchiveDocuments,
  targetUserId: string,
  renames: Map<string, string>,
  renameAll: boolean,
): Promise<void> {
  const { models } = deps;
  const runId = documents.run.workflow_run_id;
  const taken = renameAll
    ? [true]
    : await Promise.all([
        models.runs.exists({ user_id: targetUserId, workflow_run_id: runId }),
        models.events.exists({ workflow_run_id: runId }),
        models.branches.exists({ workflow_run_id: runId }),
        models.runCommands.exists({ workflow_run_id: runId }),
        models.tokens.exists({ workflow_run_id: runId }),
        models.artifacts.exists({ workflow_run_id: runId }),
      ]);
  const keep = taken.every((found) => found === null);
  renames.set(runId, keep ? runId : newId('run'));
  for (const branch of documents.branches)
    renames.set(branch.branch_id, keep ? branch.branch_id : newId('branch'));
  // New event and command ids are minted in log order, so their time order follows it.
  for (const event of documents.events)
    renames.set(event.event_id, keep ? event.event_id : newId('event'));
  for (const command of documents.commands)
    renames.set(command.command_id, keep ? command.command_id : newId('command'));
  // Questions are only read within their run, but their deadline timers are named after them.
  for (const interactionId of interactionIdsOf(documents))
    renames.set(interactionId, keep ? interactionId : newId('interaction'));
  const ids = documents.artifacts.map((artifact) => artifact.artifact_id);
  const owned = renameAll
    ? []
    : await models.artifactOwners
        .find({ artifact_id: { $in: ids } })
        .select({ artifact_id: 1 })
        .lean();
  const takenArtifacts = new Set(owned.map((owner) => owner.artifact_id));
  for (const id of ids)
    renames.set(id, renameAll || takenArtifacts.has(id) ? newId('artifact') : id);
}

/** The questions the run asked (its log, its pending one, the files uploaded for one). */
function interactionIdsOf(documents: ArchiveDocuments): Set<string> {
  const ids = new Set<string>();
  for (const event of documents.events) {
    const asked = eventDataOf(event, 'interaction_requested');
    if (asked) ids.add(asked.interaction_id);
  }
  const pending = documents.run.pending_interaction?.interaction_id;
  if (pending) ids.add(pending);
  for (const artifact of documents.artifacts)
    if (artifact.interaction_id) ids.add(artifact.interaction_id);
  return ids;
}

/**
 * The first write of the run's own: its branches. The unique (run, branch) index makes it a claim
 * on the run id, so that of two imports keeping the same ids at once only one goes on with them.
 */
async function claimLog(
  deps: RunArchiveDependencies,
  documents: ArchiveDocuments,
  renamer: IdRenamer,
  written: Written,
): Promise<void> {
  const [first, ...rest] = documents.branches.map((branch) => renamer.value(branch));
  const runId = renamer.text(documents.run.workflow_run_id);
  if (!first) throw new Error('a verified archive has a root branch');
  try {
    await deps.models.branches.collection.insertOne({ ...first });
  } catch (error) {
    if (isDuplicateKey(error)) throw new ClaimLost();
    throw error;
  }
  written.claimedRunId = runId;
  await insertInBatches(deps.models.branches.collection, rest);
}

/** The target user's template of the archive's template name, created if it has none. */
async function findOrCreateTemplate(
  deps: RunArchiveDependencies,
  { template }: ArchiveDocuments,
  userId: string,
  now: Date,
  written: Written,
): Promise<WorkflowTemplateRecord> {
  const filter = { user_id: userId, workflow_template_name: template.workflow_template_name };
  const existing = await deps.models.templates.findOne(filter).lean();
  if (existing) return existing;
  // Always a new id: keyword and option history are keyed by the template id alone.
  const record: WorkflowTemplateRecord = {
    workflow_template_id: newId('template'),
    user_id: userId,
    workflow_template_name: template.workflow_template_name,
    display_name: template.display_name,
    created_at: now,
    updated_at: now,
  };
  try {
    await deps.models.templates.collection.insertOne({ ...record });
  } catch (error) {
    // Someone created it meanwhile: theirs is the template.
    const raced = isDuplicateKey(error) ? await deps.models.templates.findOne(filter).lean() : null;
    if (!raced) throw error;
    return raced;
  }
  written.templateId = record.workflow_template_id;
  return record;
}

/**
 * Versions are content-addressed: one with the same content hash in the target template is the
 * version (its workflow must be the same); otherwise the archive's is stored, under its own id
 * when the target user has no version of that id.
 */
async function placeVersions(
  deps: RunArchiveDependencies,
  documents: ArchiveDocuments,
  template: WorkflowTemplateRecord,
  input: RunImport,
  renames: Map<string, string>,
  written: Written,
): Promise<void> {
  for (const version of documents.versions) {
    const adopted = await sameVersion(deps, template, input.targetUserId, version);
    const placed = adopted ?? (await storeVersion(deps, template, input, version, written));
    renames.set(version.workflow_version_id, placed);
  }
}

/** The id of the target template's version with the archived one's content, if it has one. */
async function sameVersion(
  deps: RunArchiveDependencies,
  template: WorkflowTemplateRecord,
  userId: string,
  version: ArchivedVersion,
): Promise<string | null> {
  const same = await deps.models.versions
    .findOne({
      user_id: userId,
      workflow_template_id: template.workflow_template_id,
      content_hash: version.content_hash,
    })
    .lean();
  if (!same) return null;
  const workflow = await readResolvedWorkflow(deps.mongo, same);
  if (canonicalJson(workflow) !== canonicalJson(version.resolved_workflow))
    throw new ConflictError(
      `version ${same.workflow_version_id} here has the content hash of the archive's ${version.workflow_version_id} but another workflow`,
    );
  return same.workflow_version_id;
}

async function storeVersion(
  deps: RunArchiveDependencies,
  template: WorkflowTemplateRecord,
  input: RunImport,
  version: ArchivedVersion,
  written: Written,
): Promise<string> {
  const { models } = deps;
  const userId = input.targetUserId;
  const idTaken = await models.versions.exists({
    user_id: userId,
    workflow_version_id: version.workflow_version_id,
  });
  const versionId = idTaken ? newId('version') : version.workflow_version_id;
  const json = JSON.stringify(version.resolved_workflow);
  const size = Buffer.byteLength(json, 'utf8');
  const ref =
    size <= (input.inlineLimitBytes ?? DEFAULT_INLINE_LIMIT_BYTES)
      ? null
      : await uploadToBucket(
          deps.mongo,
          'resolved_workflows',
          `${versionId}.json`,
          Buffer.from(json, 'utf8'),
          {
            workflow_template_id: template.workflow_template_id,
            content_hash: version.content_hash,
          },
        );
  if (ref) written.resolvedRefs.push(ref);
  const record: WorkflowVersionRecord = {
    workflow_version_id: versionId,
    workflow_template_id: template.workflow_template_id,
    user_id: userId,
    content_hash: version.content_hash,
    raw_sha256: version.raw_sha256,
    source_type: version.source_type,
    resolved_workflow: ref ? null : version.resolved_workflow,
    resolved_workflow_ref: ref,
    size,
    // The submitted bytes stay on the server they were submitted to.
    source_file_id: null,
    created_at: version.created_at,
  };
  try {
    await models.versions.collection.insertOne({ ...record });
  } catch (error) {
    // Stored meanwhile (a submission, another import of the same template): that is the version.
    const adopted = isDuplicateKey(error)
      ? await sameVersion(deps, template, userId, version)
      : null;
    if (!adopted) throw error;
    return adopted;
  }
  written.versionIds.push(versionId);
  return versionId;
}

/** A Readable as a ChunkReader (the shape streamIntoBucket reads). */
function chunkReader(stream: Readable): () => Promise<Buffer | null> {
  const chunks = stream[Symbol.asyncIterator]();
  return async () => {
    const next = await chunks.next();
    return next.done ? null : Buffer.from(next.value as Uint8Array);
  };
}

/**
 * Claims each artifact's id in `artifact_owners` (the global lookup) before anything else of it is
 * written. An id another import took since it was found free is given up for a new one; nothing
 * refers to it yet, since the log is written after the artifacts.
 */
async function claimArtifactIds(
  deps: RunArchiveDependencies,
  documents: ArchiveDocuments,
  renames: Map<string, string>,
  owner: { workflow_run_id: string; user_id: string },
  written: Written,
): Promise<void> {
  for (const archived of documents.artifacts) {
    for (let attempt = 0; ; attempt++) {
      const artifactId = renames.get(archived.artifact_id) ?? archived.artifact_id;
      try {
        await deps.models.artifactOwners.collection.insertOne({
          artifact_id: artifactId,
          ...owner,
        });
        written.artifactIds.push(artifactId);
        break;
      } catch (error) {
        if (!isDuplicateKey(error) || attempt > 0) throw error;
        renames.set(archived.artifact_id, newId('artifact'));
      }
    }
  }
}

/** Each artifact gets a GridFS file of its own (deleting one never takes another's bytes). */
async function writeArtifacts(
  deps: RunArchiveDependencies,
  documents: ArchiveDocuments,
  renamer: IdRenamer,
  artifactBytes: (sha256: string) => Readable,
  written: Written,
): Promise<void> {
  for (const archived of documents.artifacts) {
    const artifact: ArtifactRecord = renamer.value(archived);
    const tooLarge = () => new Error(`artifact ${artifact.artifact_id} is larger than recorded`);
    const file = await streamIntoBucket({
      connection: deps.mongo,
      bucket: 'artifacts',
      name: artifact.name,
      metadata: {
        artifact_id: artifact.artifact_id,
        workflow_run_id: artifact.workflow_run_id,
        content_type: artifact.content_type,
      },
      head: { chunks: [], size: 0, ended: false },
      read: chunkReader(artifactBytes(archived.sha256)),
      limit: artifact.size,
      tooLarge,
    });
    written.artifactFiles.push(file.fileId);
    if (file.sha256 !== artifact.sha256) throw new Error('artifact bytes changed while importing');
    await deps.models.artifacts.collection.insertOne({ ...artifact, file_id: file.fileId });
  }
}

const BATCH = 1_000;
/** MAX_INLINE_RESOLVED_BYTES' default: the resolver's limit for keeping a workflow inline. */
const DEFAULT_INLINE_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * Inserts records a batch at a time, each renamed as its batch goes (a renamed copy of a whole
 * log would be one more copy of it in memory).
 */
async function insertInBatches(
  collection: { insertMany(documents: object[], options: { ordered: boolean }): Promise<unknown> },
  records: readonly object[],
  renamer?: IdRenamer,
): Promise<void> {
  for (let start = 0; start < records.length; start += BATCH)
    await collection.insertMany(
      records
        .slice(start, start + BATCH)
        .map((record) => (renamer ? renamer.value(record) : { ...record })),
      { ordered: true },
    );
}

async function writeLog(
  deps: RunArchiveDependencies,
  documents: ArchiveDocuments,
  renamer: IdRenamer,
): Promise<void> {
  const { models } = deps;
  await insertInBatches(models.events.collection, documents.events, renamer);
  await insertInBatches(models.runCommands.collection, documents.commands, renamer);
  await insertInBatches(models.tokens.collection, documents.tokens, renamer);
}

/**
 * Removes what a failed import wrote. The log goes by its run id once this import claimed it (no
 * other import can have written under it); artifacts, versions and the template by their ids.
 */
async function takeBack(deps: RunArchiveDependencies, written: Written, userId: string) {
  const { models, mongo } = deps;
  const quietly = (promise: Promise<unknown>) => promise.catch(() => undefined);
  if (written.claimedRunId !== null) {
    const owned = { workflow_run_id: written.claimedRunId };
    await quietly(models.tokens.deleteMany(owned));
    await quietly(models.runCommands.deleteMany(owned));
    await quietly(models.events.deleteMany(owned));
    await quietly(models.artifacts.deleteMany(owned));
    await quietly(models.branches.deleteMany(owned));
  }
  if (written.artifactIds.length > 0)
    await quietly(models.artifactOwners.deleteMany({ artifact_id: { $in: written.artifactIds } }));
  for (const fileId of written.artifactFiles)
    await quietly(deleteFromBucket(mongo, 'artifacts', fileId));
  if (written.versionIds.length > 0)
    await quietly(
      models.versions.deleteMany({
        user_id: userId,
        workflow_version_id: { $in: written.versionIds },
      }),
    );
  for (const ref of written.resolvedRefs)
    await quietly(deleteFromBucket(mongo, 'resolved_workflows', ref));
  if (written.templateId !== null)
    await quietly(
      models.templates.deleteOne({ user_id: userId, workflow_template_id: written.templateId }),
    );
}
