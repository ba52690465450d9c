import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { sha256Hex } from '@stepwise/shared/node';
import type { mongo } from 'mongoose';
import { derivedObjectId } from '../deterministic.js';
import type { MigratedRunFacts } from './run-facts.js';
import { insertOnce } from './target-writes.js';
import { dateOf } from './dates.js';

/**
 * Stored files become artifacts (docs/migration-original.md, "Files"): `workflow_files` (content
 * inline in MongoDB, research §2.7) and generated media (`generated_content`, bytes on disk under
 * the original's MEDIA_BASE_PATH, §6.2–6.3). Each artifact keeps the original's id, so links held
 * to a file still name it. GridFS documents are written directly, with ids and upload times taken
 * from the original, so a rerun after a kill writes the same bytes under the same ids.
 */

const CHUNK_BYTES = 255 * 1024;
const BUCKET = 'artifacts';
const MAX_BATCH_BYTES = 64 * 1024 * 1024;

export interface FilesReport {
  workflow_files: number;
  media_files: number;
  /** Files that could not be migrated, with why (missing on disk, outside the media path, …). */
  not_migrated: { id: string; reason: string }[];
}

interface ArtifactSource {
  artifactId: string;
  runId: string;
  run: MigratedRunFacts;
  stepId: string;
  moduleName: string;
  kind: 'deliverable' | 'debug';
  name: string;
  contentType: string;
  bytes: Buffer;
  created: Date;
}

/**
 * Artifacts written a batch at a time: the GridFS chunks, then the files, then the lookups, then
 * the records, so that a record never names a file that is not whole (a kill between two steps
 * leaves only what the next run writes again, under the same ids).
 */
class ArtifactBatch {
  private chunks: mongo.Document[] = [];
  private files: mongo.Document[] = [];
  private owners: mongo.Document[] = [];
  private records: mongo.Document[] = [];
  private bytes = 0;

  constructor(
    private readonly target: mongo.Db,
    private readonly size = 500,
  ) {}

  async add(source: ArtifactSource): Promise<void> {
    const fileId = derivedObjectId('original-file', source.artifactId);
    for (let n = 0; n === 0 || n * CHUNK_BYTES < source.bytes.length; n++) {
      this.chunks.push({
        _id: derivedObjectId('original-chunk', source.artifactId, String(n)),
        files_id: fileId,
        n,
        data: source.bytes.subarray(n * CHUNK_BYTES, (n + 1) * CHUNK_BYTES),
      });
    }
    this.files.push({
      _id: fileId,
      length: source.bytes.length,
      chunkSize: CHUNK_BYTES,
      uploadDate: source.created,
      filename: source.name,
      metadata: {
        artifact_id: source.artifactId,
        workflow_run_id: source.runId,
        content_type: source.contentType,
      },
    });
    this.owners.push({
      _id: derivedObjectId('original-artifact-owner', source.artifactId),
      artifact_id: source.artifactId,
      workflow_run_id: source.runId,
      user_id: source.run.userId,
    });
    this.records.push({
      _id: derivedObjectId('original-artifact', source.artifactId),
      artifact_id: source.artifactId,
      workflow_run_id: source.runId,
      user_id: source.run.userId,
      branch_id: source.run.branchId,
      event_id: null,
      step_id: source.stepId,
      module_name: source.moduleName,
      kind: source.kind,
      name: source.name,
      content_type: source.contentType,
      size: source.bytes.length,
      sha256: sha256Hex(source.bytes),
      file_id: fileId.toHexString(),
      idempotency_key: null,
      interaction_id: null,
      created_at: source.created,
    });
    this.bytes += source.bytes.length;
    // Media can be large: a batch is also cut by its bytes, so memory stays bounded.
    if (this.records.length >= this.size || this.bytes >= MAX_BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    await insertOnce(this.target.collection(`${BUCKET}.chunks`), this.chunks);
    await insertOnce(this.target.collection(`${BUCKET}.files`), this.files);
    await insertOnce(this.target.collection('artifact_owners'), this.owners);
    await insertOnce(this.target.collection('artifacts'), this.records);
    this.chunks = [];
    this.files = [];
    this.owners = [];
    this.records = [];
    this.bytes = 0;
  }
}

interface OriginalWorkflowFile {
  _id: unknown;
  file_id: string;
  workflow_run_id: string;
  category?: string | null;
  filename?: string | null;
  content_type?: string | null;
  content?: unknown;
  metadata?: Record<string, unknown> | null;
  created_at?: Date | null;
}

interface OriginalGeneratedContent {
  _id: unknown;
  generated_content_id: string;
  workflow_run_id: string;
  content_generation_metadata_id?: string | null;
  content_type?: string | null;
  extension?: string | null;
  local_path?: string | null;
  downloaded_at?: Date | null;
}

const mediaTypes: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
};

/**
 * A stored media path on this machine: relative paths (after the original's m_11) from the media
 * base; absolute ones as written, or re-rooted from `originalMediaBase` (the path the original
 * used, e.g. `/mnt/g/wm`) onto the base given. Nothing outside the base is read.
 */
export function mediaPathOf(
  localPath: string,
  mediaBase: string,
  originalMediaBase: string | null,
): string | null {
  const base = resolve(mediaBase);
  let path: string;
  if (!isAbsolute(localPath)) path = resolve(base, localPath);
  else if (originalMediaBase && localPath.startsWith(`${originalMediaBase.replace(/\/$/, '')}/`))
    path = join(base, localPath.slice(originalMediaBase.replace(/\/$/, '').length + 1));
  else path = resolve(localPath);
  const inside = relative(base, path);
  return inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside) ? null : path;
}

export async function migrateFiles(
  source: mongo.Db,
  target: mongo.Db,
  runs: ReadonlyMap<string, MigratedRunFacts>,
  media: { base: string | null; originalBase: string | null },
): Promise<FilesReport> {
  const report: FilesReport = { workflow_files: 0, media_files: 0, not_migrated: [] };
  // The bucket's own indexes, as the driver makes them on its first upload (these files are
  // written directly): a download finds its chunks by (files_id, n).
  await target
    .collection(`${BUCKET}.chunks`)
    .createIndex({ files_id: 1, n: 1 }, { unique: true, name: 'files_id_1_n_1' });
  await target
    .collection(`${BUCKET}.files`)
    .createIndex({ filename: 1, uploadDate: 1 }, { name: 'filename_1_uploadDate_1' });
  const done = new Set(
    (
      await target
        .collection('artifacts')
        .find({}, { projection: { artifact_id: 1 } })
        .toArray()
    ).map((artifact) => String(artifact['artifact_id'])),
  );

  const batch = new ArtifactBatch(target);
  for await (const document of source.collection('workflow_files').find().sort({ file_id: 1 })) {
    const file = document as unknown as OriginalWorkflowFile;
    const run = runs.get(file.workflow_run_id);
    if (!run) {
      report.not_migrated.push({ id: file.file_id, reason: 'its run was not migrated' });
      continue;
    }
    report.workflow_files++;
    if (done.has(file.file_id)) continue;
    const json = file.content_type === 'json';
    const bytes = Buffer.from(
      json ? JSON.stringify(file.content ?? null, null, 2) : String(file.content ?? ''),
      'utf8',
    );
    await batch.add({
      artifactId: file.file_id,
      runId: file.workflow_run_id,
      run,
      stepId: typeof file.metadata?.['step_id'] === 'string' ? file.metadata['step_id'] : '',
      moduleName: file.category ?? 'files',
      // API call logs are for debugging; saved outputs are what the run made.
      kind: file.category === 'api_calls' ? 'debug' : 'deliverable',
      name: file.filename ?? file.file_id,
      contentType: json ? 'application/json' : 'text/plain; charset=utf-8',
      bytes,
      created: dateOf(file.created_at) ?? new Date(0),
    });
  }

  for await (const document of source
    .collection('generated_content')
    .find()
    .sort({ generated_content_id: 1 })) {
    const content = document as unknown as OriginalGeneratedContent;
    const run = runs.get(content.workflow_run_id);
    const id = content.generated_content_id;
    if (!run) {
      report.not_migrated.push({ id, reason: 'its run was not migrated' });
      continue;
    }
    if (done.has(id)) {
      report.media_files++;
      continue;
    }
    if (!media.base) {
      report.not_migrated.push({ id, reason: 'no --media-base given' });
      continue;
    }
    const path = content.local_path
      ? mediaPathOf(content.local_path, media.base, media.originalBase)
      : null;
    if (!path) {
      report.not_migrated.push({
        id,
        reason: `path outside the media base: ${content.local_path ?? '(none)'}`,
      });
      continue;
    }
    let bytes: Buffer;
    try {
      // A link inside the base may point outside it: the real path must lie inside too.
      const real = await realpath(path);
      if (mediaPathOf(real, await realpath(media.base), null) === null) {
        report.not_migrated.push({ id, reason: `links outside the media base: ${path}` });
        continue;
      }
      bytes = await readFile(real);
    } catch {
      report.not_migrated.push({ id, reason: `missing on disk: ${path}` });
      continue;
    }
    const extension = (content.extension ?? path.split('.').at(-1) ?? '').toLowerCase();
    await batch.add({
      artifactId: id,
      runId: content.workflow_run_id,
      run,
      stepId: '',
      moduleName: 'media',
      kind: 'deliverable',
      name: path.split('/').at(-1) ?? id,
      contentType: mediaTypes[extension] ?? 'application/octet-stream',
      bytes,
      created: dateOf(content.downloaded_at) ?? new Date(0),
    });
    report.media_files++;
  }
  await batch.flush();
  return report;
}
