import type { Request, Response } from 'express';
import type { Connection } from 'mongoose';
import {
  NotFoundError,
  StepwiseError,
  type ArtifactDetail,
  type ArtifactRecord,
  type ArtifactView,
} from '@stepwise/shared';
import { findArtifactOfUser, readBucketFile, type Models } from '@stepwise/shared/node';
import { findRun } from '../runs/run-queries.js';
import { etagMatches, streamTo } from './http-bytes.js';
import { hasPreview, sendPreview } from './previews.js';
import { ifRangeAllows, parseRange, readBucketRange } from './ranges.js';

export function artifactView(artifact: ArtifactRecord): ArtifactView {
  return {
    artifact_id: artifact.artifact_id,
    workflow_run_id: artifact.workflow_run_id,
    branch_id: artifact.branch_id,
    event_id: artifact.event_id,
    step_id: artifact.step_id,
    module_name: artifact.module_name,
    kind: artifact.kind,
    name: artifact.name,
    content_type: artifact.content_type,
    size: artifact.size,
    sha256: artifact.sha256,
    created_at: artifact.created_at.toISOString(),
  };
}

export async function listArtifacts(models: Models, userId: string, runId: string) {
  const run = await findRun(models, userId, runId);
  const artifacts = await models.artifacts
    .find({ workflow_run_id: run.workflow_run_id })
    .sort({ created_at: 1 })
    .lean();
  return { items: artifacts.map(artifactView) };
}

/**
 * What a run spent on providers, call by call (effects.md, rule 4). Totals count answered calls;
 * calls whose answer was lost (the runner died mid-call, or the attempt timed out) are counted
 * apart: they may have been billed without the usage ever reaching us.
 */
export async function runUsage(models: Models, userId: string, runId: string) {
  const run = await findRun(models, userId, runId);
  const rows = await models.tokens
    .find({ workflow_run_id: run.workflow_run_id })
    .sort({ created_at: 1 })
    .lean();
  // Records written before calls had keys and statuses were answered calls.
  const statusOf = (row: (typeof rows)[number]) => row.status ?? 'completed';
  const totals = rows
    .filter((row) => statusOf(row) === 'completed')
    .reduce(
      (sum, row) => ({
        calls: sum.calls + 1,
        input_tokens: sum.input_tokens + row.input_tokens,
        output_tokens: sum.output_tokens + row.output_tokens,
        total_cost: sum.total_cost + row.total_cost,
      }),
      { calls: 0, input_tokens: 0, output_tokens: 0, total_cost: 0 },
    );
  const count = (status: string) => rows.filter((row) => statusOf(row) === status).length;
  return {
    items: rows.map((row) => ({
      status: statusOf(row),
      idempotency_key: row.idempotency_key ?? null,
      call_index: row.call_index ?? 0,
      attempt: row.attempt ?? null,
      step_id: row.step_id,
      module_name: row.module_name,
      branch_id: row.branch_id,
      provider: row.provider,
      model: row.model,
      input_tokens: row.input_tokens,
      output_tokens: row.output_tokens,
      total_cost: row.total_cost,
      created_at: row.created_at.toISOString(),
      completed_at: row.completed_at ? row.completed_at.toISOString() : null,
    })),
    totals: { ...totals, total_cost: Math.round(totals.total_cost * 1e8) / 1e8 },
    lost: { calls: count('lost') + count('pending') },
    failed: { calls: count('failed') },
  };
}

export async function findArtifact(models: Models, userId: string, artifactId: string) {
  const artifact = await findArtifactOfUser(models, userId, artifactId);
  if (!artifact) throw new NotFoundError('artifact', artifactId);
  return artifact;
}

/** An artifact's metadata, with the paths of its bytes and (for an image) of its preview. */
export async function artifactDetail(
  models: Models,
  userId: string,
  artifactId: string,
): Promise<ArtifactDetail> {
  const artifact = await findArtifact(models, userId, artifactId);
  const base = `/v1/artifacts/${encodeURIComponent(artifact.artifact_id)}`;
  return {
    ...artifactView(artifact),
    content_url: `${base}/content`,
    preview_url: hasPreview(artifact.content_type) ? `${base}/preview` : null,
  };
}

/**
 * Streams an artifact's bytes from GridFS without holding them in memory, with its content type,
 * length and a strong ETag (its sha256); a matching If-None-Match answers 304 without a body. One
 * `Range` is answered 206 with just those bytes (unless an If-Range names another version), a
 * range past the end 416; several ranges get the whole bytes (RFC 9110 allows it).
 */
export async function sendArtifactContent(
  connection: Connection,
  models: Models,
  userId: string,
  artifactId: string,
  req: Request,
  res: Response,
): Promise<200 | 206 | 304> {
  const artifact = await findArtifact(models, userId, artifactId);
  const etag = `"${artifact.sha256}"`;
  const range = ifRangeAllows(req.get('if-range'), etag)
    ? parseRange(req.get('range'), artifact.size)
    : ({ kind: 'whole' } as const);
  // Evaluated after If-None-Match (RFC 9110, 13.2.2): a client whose copy is current gets 304.
  const notModified = etagMatches(req.get('if-none-match'), etag);
  if (range.kind === 'unsatisfiable' && !notModified) {
    res.setHeader('Content-Range', `bytes */${artifact.size}`);
    throw new StepwiseError(
      'RANGE_NOT_SATISFIABLE',
      `the range '${req.get('range') ?? ''}' does not overlap the ${artifact.size} bytes of artifact '${artifactId}'`,
    );
  }
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  res.setHeader('Accept-Ranges', 'bytes');
  if (notModified) {
    res.status(304).end();
    return 304;
  }
  res.setHeader('Content-Type', artifact.content_type);
  res.setHeader(
    'Content-Disposition',
    `inline; filename*=UTF-8''${encodeURIComponent(artifact.name)}`,
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (range.kind === 'partial') {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${artifact.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
    await streamTo(
      readBucketRange(connection, 'artifacts', artifact.file_id, range.start, range.end),
      res,
    );
    return 206;
  }
  res.status(200);
  res.setHeader('Content-Length', String(artifact.size));
  await streamTo(readBucketFile(connection, 'artifacts', artifact.file_id), res);
  return 200;
}

/** An image artifact's WebP preview (made on first request, then served from the cache). */
export async function sendArtifactPreview(
  connection: Connection,
  models: Models,
  userId: string,
  artifactId: string,
  req: Request,
  res: Response,
): Promise<200 | 304> {
  return sendPreview(connection, await findArtifact(models, userId, artifactId), req, res);
}
