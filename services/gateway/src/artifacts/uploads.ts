import type { Request } from 'express';
import { fileTypeFromBuffer } from 'file-type';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import {
  BadRequestError,
  StepwiseError,
  acceptsMediaType,
  newId,
  type ArtifactRecord,
  type ArtifactView,
  type WorkflowRunRecord,
} from '@stepwise/shared';
import {
  deleteFromBucket,
  insertArtifactRecord,
  readHead,
  streamIntoBucket,
  type Models,
} from '@stepwise/shared/node';
import { findRun } from '../runs/run-queries.js';
import { artifactView } from './artifacts.js';

/**
 * A person's file for a `user.file_input` question (media.md, docs/media.md): the raw bytes of one
 * file per request, streamed into GridFS as an `upload` artifact of the run. The answer to the
 * question then names the artifacts. Everything that can refuse the file is decided before a byte
 * is stored: the run must be waiting on a file question, a declared length must fit, and the
 * first bytes must be of an accepted type; a body that grows past the limit is cut off and what
 * was stored of it deleted. The file never sits whole in memory.
 */

export interface UploadDependencies {
  mongo: Connection;
  models: Models;
  /** MAX_FILE_UPLOAD_BYTES: no question may accept more. */
  maxFileUploadBytes: number;
}

export interface UploadInput {
  userId: string;
  runId: string;
  /** The file's name as the client gave it; `upload.<ext>` when absent. */
  name: string | undefined;
  /** When given, the upload is refused unless this is the pending question. */
  interactionId: string | undefined;
  req: Request;
}

/** Bytes file-type reads to tell a type (its own "reasonable detection size"). */
const SNIFF_BYTES = 4100;

/** What an upload needs of the pending question (lenient, like the runner's reading of it). */
const questionSchema = z.object({ accept: z.array(z.string()), max_bytes: z.number().int() });

function tooLarge(limit: number): StepwiseError {
  return new StepwiseError(
    'PAYLOAD_TOO_LARGE',
    `the file is larger than ${limit} bytes, the most accepted here (the question's max_bytes, or the server's MAX_FILE_UPLOAD_BYTES when lower)`,
  );
}

/** The pending `user.file_input` question the run waits on, or a 409 saying why there is none. */
function fileQuestionOf(run: WorkflowRunRecord, interactionId: string | undefined) {
  const pending = run.pending_interaction;
  if (run.status !== 'awaiting_input' || !pending || pending.module_id !== 'user.file_input') {
    const waitingOn = pending ? `a ${pending.module_id} question` : `nothing (it is ${run.status})`;
    throw new StepwiseError(
      'INTERACTION_NOT_PENDING',
      `run '${run.workflow_run_id}' takes no upload: it is waiting on ${waitingOn}, not on a user.file_input question`,
    );
  }
  if (interactionId !== undefined && interactionId !== pending.interaction_id) {
    throw new StepwiseError(
      'INTERACTION_NOT_PENDING',
      `interaction '${interactionId}' is not pending (the run waits on '${pending.interaction_id}')`,
    );
  }
  return { pending, question: questionSchema.parse(pending.request) };
}

/** The body's chunks as they arrive; a client that hangs up mid-file is a refused upload. */
function bodyReader(req: Request) {
  const iterator: AsyncIterator<Buffer> = req[Symbol.asyncIterator]();
  // Never `return()`ed: that would destroy the socket before the refusal could be sent. A body
  // left unread is dropped with the connection (the route answers refusals `Connection: close`).
  return async (): Promise<Buffer | null> => {
    try {
      const next = await iterator.next();
      return next.done ? null : next.value;
    } catch {
      throw new BadRequestError('the upload was interrupted before its last byte');
    }
  };
}

/** The type the file's first bytes say it is, if the question accepts it; else 415 saying why. */
async function acceptedType(head: Buffer, accept: readonly string[]) {
  // A detector tripping over malformed bytes has not recognised them either.
  const detected = await fileTypeFromBuffer(head.subarray(0, SNIFF_BYTES)).catch(() => undefined);
  if (!detected) {
    throw new StepwiseError(
      'UNSUPPORTED_MEDIA_TYPE',
      `the file's type could not be recognised from its bytes; this question accepts ${accept.join(', ')}`,
    );
  }
  if (!acceptsMediaType(accept, detected.mime)) {
    throw new StepwiseError(
      'UNSUPPORTED_MEDIA_TYPE',
      `the file is ${detected.mime} (read from its bytes); this question accepts ${accept.join(', ')}`,
    );
  }
  return detected;
}

/**
 * Receives one file for the run's pending `user.file_input` question and stores it as an unlinked
 * `upload` artifact of the run (an answer that names it links it; an unused one is swept).
 */
export async function receiveUpload(
  deps: UploadDependencies,
  input: UploadInput,
): Promise<ArtifactView> {
  const run = await findRun(deps.models, input.userId, input.runId);
  const { pending, question } = fileQuestionOf(run, input.interactionId);
  const limit = Math.min(question.max_bytes, deps.maxFileUploadBytes);
  const declared = input.req.get('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);

  const read = bodyReader(input.req);
  const refuse = () => tooLarge(limit);
  const head = await readHead(read, SNIFF_BYTES, limit, refuse);
  if (head.size === 0) throw new BadRequestError('the upload is empty: send the file as the body');
  const type = await acceptedType(Buffer.concat(head.chunks), question.accept);

  const artifactId = newId('artifact');
  const name = input.name ?? `upload.${type.ext}`;
  const stored = await streamIntoBucket({
    connection: deps.mongo,
    bucket: 'artifacts',
    name,
    metadata: {
      artifact_id: artifactId,
      workflow_run_id: run.workflow_run_id,
      content_type: type.mime,
    },
    head,
    read,
    limit,
    tooLarge: refuse,
  });
  try {
    const record: ArtifactRecord = {
      artifact_id: artifactId,
      workflow_run_id: run.workflow_run_id,
      user_id: run.user_id,
      branch_id: run.active_branch_id,
      event_id: null,
      step_id: pending.step_id,
      module_name: pending.module_name,
      kind: 'upload',
      name,
      content_type: type.mime,
      size: stored.size,
      sha256: stored.sha256,
      file_id: stored.fileId,
      idempotency_key: null,
      interaction_id: pending.interaction_id,
      created_at: new Date(),
    };
    await insertArtifactRecord(deps.models, record);
    return artifactView(record);
  } catch (error) {
    // A file with no description would be swept by nothing: it goes if its record cannot be had.
    await deleteFromBucket(deps.mongo, 'artifacts', stored.fileId).catch(() => undefined);
    throw error;
  }
}
