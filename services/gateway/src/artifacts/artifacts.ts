import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Connection } from 'mongoose';
import { NotFoundError, type ArtifactRecord, type ArtifactView } from '@stepwise/shared';
import { readBucketFile, type Models } from '@stepwise/shared/node';
import { findRun } from '../runs/run-queries.js';

function artifactView(artifact: ArtifactRecord): ArtifactView {
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

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const value = candidate.trim().replace(/^W\//, '');
    return value === '*' || value === etag;
  });
}

/**
 * Streams an artifact's bytes from GridFS without holding them in memory, with its content type,
 * length and a strong ETag (its sha256); a matching If-None-Match answers 304 without a body.
 */
export async function sendArtifactContent(
  connection: Connection,
  models: Models,
  userId: string,
  artifactId: string,
  req: Request,
  res: Response,
): Promise<200 | 304> {
  const artifact = await models.artifacts
    .findOne({ artifact_id: artifactId, user_id: userId })
    .lean();
  if (!artifact) throw new NotFoundError('artifact', artifactId);
  const etag = `"${artifact.sha256}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  if (etagMatches(req.get('if-none-match'), etag)) {
    res.status(304).end();
    return 304;
  }
  res.status(200);
  res.setHeader('Content-Type', artifact.content_type);
  res.setHeader('Content-Length', String(artifact.size));
  res.setHeader(
    'Content-Disposition',
    `inline; filename*=UTF-8''${encodeURIComponent(artifact.name)}`,
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  await pipeline(
    Readable.from(readBucketFile(connection, 'artifacts', artifact.file_id)),
    res,
  ).catch((error: unknown) => {
    // A client that hangs up mid-download is not an error of ours.
    if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
  });
  return 200;
}
