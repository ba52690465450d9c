import { z } from 'zod';
import type { builtInModuleDeclarations } from '@stepwise/shared';
import { acceptsMediaType, type ModuleRunContext } from '@stepwise/shared';
import { readHead, type FileHead } from '@stepwise/shared/node';
import {
  attemptOwner,
  type ArtifactDescription,
  type ArtifactStore,
} from '../artifacts/artifact-store.js';
import { ModuleFailure } from '../engine/module-failure.js';
import type { DestinationPolicy } from '@stepwise/shared/node';
import { OutboundError, openOutbound, type OutboundStream } from '../outbound/http-client.js';
import { asText, select } from './json-path.js';
import { detectMediaType } from './media-types.js';

/**
 * An outside job's result files, stored as artifacts of the attempt: each is read from its URL
 * (under the outbound rules of `api.fetch`) or decoded from base64, its type told from its first
 * bytes and checked against `accept` before anything is stored, and a URL's body written to
 * GridFS as it arrives (never whole in memory), at most `maxResultBytes` each.
 */

export interface JobResultSettings {
  policy: DestinationPolicy;
  maxResultBytes: number;
  defaultTimeoutMs: number;
  artifacts: ArtifactStore;
}

type JobInputs = z.output<(typeof builtInModuleDeclarations)['api.job']['inputs']>;

/** Bytes file-type reads to tell a type (its own "reasonable detection size"). */
const SNIFF_BYTES = 4100;

/** Errors a later attempt may not meet again. */
const transient = new Set(['TIMEOUT', 'NETWORK_ERROR']);

export const storedArtifactSchema = z.object({
  artifact_id: z.string(),
  name: z.string(),
  content_type: z.string(),
  size: z.number().int(),
  sha256: z.string(),
});
export type StoredArtifact = z.infer<typeof storedArtifactSchema>;
export interface StoredFiles {
  artifact_ids: string[];
  artifacts: StoredArtifact[];
}

export function outboundFailure(error: unknown, what: string): unknown {
  if (!(error instanceof OutboundError)) return error;
  return new ModuleFailure(
    error.code === 'DESTINATION_REFUSED' ? 'DESTINATION_REFUSED' : `HTTP_${error.code}`,
    `${what}: ${error.message}`,
    transient.has(error.code),
  );
}

export function createJobResults(settings: JobResultSettings) {
  const max = settings.maxResultBytes;
  const tooLarge = (index: number) => () =>
    new ModuleFailure(
      'JOB_RESULT_TOO_LARGE',
      `result ${index + 1} is larger than ${max} bytes, the most stored (MAX_ARTIFACT_BYTES)`,
      false,
    );

  /** The result's type from its first bytes, if `accept` takes it; else the module fails. */
  async function acceptedType(inputs: JobInputs, head: Buffer, index: number) {
    const detected = await detectMediaType(head.subarray(0, SNIFF_BYTES));
    if (!detected || !acceptsMediaType(inputs.accept, detected.mime))
      throw new ModuleFailure(
        'JOB_RESULT_REFUSED',
        `result ${index + 1} is ${detected ? detected.mime : 'of no recognised media type'}, not ${inputs.accept.join(' or ')}`,
        false,
      );
    return detected;
  }

  function describe(
    inputs: JobInputs,
    type: { mime: string; ext: string },
    index: number,
    context: ModuleRunContext,
  ): ArtifactDescription {
    return {
      ...attemptOwner(context.run),
      name: `${inputs.name}-${index + 1}.${type.ext}`,
      kind: 'deliverable',
      contentType: type.mime,
    };
  }

  /** A result already in memory (base64, or a synchronous provider's answer). */
  async function storeFile(
    inputs: JobInputs,
    bytes: Buffer,
    index: number,
    context: ModuleRunContext,
  ): Promise<StoredArtifact> {
    if (bytes.length > max) throw tooLarge(index)();
    const type = await acceptedType(inputs, bytes, index);
    const saved = await settings.artifacts.save({
      ...describe(inputs, type, index, context),
      bytes,
    });
    return storedArtifactSchema.parse(saved);
  }

  /** A result at a URL: its head read and checked, then the rest stored as it arrives. */
  async function storeDownload(
    inputs: JobInputs,
    url: string,
    index: number,
    context: ModuleRunContext,
  ): Promise<StoredArtifact> {
    const what = `downloading result ${index + 1}`;
    let answer: OutboundStream;
    try {
      answer = await openOutbound(settings.policy, {
        url,
        method: 'GET',
        headers: {},
        timeoutMs: inputs.request_timeout_ms ?? settings.defaultTimeoutMs,
        // The limit is the store's, which says so in the module's own words.
        maxResponseBytes: Number.MAX_SAFE_INTEGER,
        signal: context.signal,
      });
    } catch (error) {
      throw outboundFailure(error, what);
    }
    try {
      if (answer.status < 200 || answer.status > 299)
        throw new ModuleFailure(
          'JOB_RESULT_DOWNLOAD_FAILED',
          `${what} answered ${answer.status}`,
          answer.status >= 500 || answer.status === 429,
        );
      const head: FileHead = await readHead(answer.read, SNIFF_BYTES, max, tooLarge(index));
      const type = await acceptedType(inputs, Buffer.concat(head.chunks), index);
      const saved = await settings.artifacts.saveStreamed(describe(inputs, type, index, context), {
        head,
        read: answer.read,
        limit: max,
        tooLarge: tooLarge(index),
      });
      return storedArtifactSchema.parse(saved);
    } catch (error) {
      answer.close();
      throw outboundFailure(error, what);
    }
  }

  /** The files `result_path` finds in a finished job's answer, each stored in turn. */
  async function storeResults(
    inputs: JobInputs,
    answer: unknown,
    context: ModuleRunContext,
  ): Promise<StoredFiles> {
    if (!inputs.result_path)
      throw new ModuleFailure(
        'JOB_RESULT_MISSING',
        'the provider answered JSON, and inputs.result_path does not say where its files are',
        false,
      );
    const found = select(inputs.result_path, answer).map((value) =>
      typeof value === 'object' && value !== null && 'url' in value
        ? (value as { url: unknown }).url
        : value,
    );
    if (found.length === 0)
      throw new ModuleFailure(
        'JOB_RESULT_MISSING',
        `the job succeeded but '${inputs.result_path}' found no result in its answer`,
        false,
      );
    if (found.length > inputs.max_results)
      throw new ModuleFailure(
        'JOB_RESULT_TOO_MANY',
        `the job gave ${found.length} results; at most ${inputs.max_results} are accepted`,
        false,
      );
    const artifacts: StoredArtifact[] = [];
    for (const [index, value] of found.entries()) {
      const source = asText(value);
      if (source === null)
        throw new ModuleFailure(
          'JOB_RESULT_INVALID',
          `result ${index + 1} is not a ${inputs.result_encoding === 'url' ? 'URL' : 'base64 string'}`,
          false,
        );
      artifacts.push(
        inputs.result_encoding === 'base64'
          ? await storeFile(
              inputs,
              Buffer.from(source.replace(/^data:[^,]*,/, ''), 'base64'),
              index,
              context,
            )
          : await storeDownload(inputs, source, index, context),
      );
    }
    return { artifact_ids: artifacts.map((artifact) => artifact.artifact_id), artifacts };
  }

  return { storeFile, storeResults };
}
