import {
  StepwiseError,
  validateWorkflow,
  type ModuleCatalog,
  type SourceType,
  type WorkflowDefinition,
} from '@stepwise/shared';
import {
  contentHashOfFiles,
  contentHashOfJson,
  sha256Hex,
  type ContentHash,
} from '@stepwise/shared/node';
import type { BundleLimits } from './bundle/limits.js';
import { readZipBundle } from './bundle/read-zip.js';
import { ReferenceResolver } from './bundle/resolve-refs.js';

export const DEFAULT_ENTRY_POINT = 'workflow.json';

export interface Submission {
  bytes: Uint8Array;
  sourceType: SourceType;
  entryPoint?: string | undefined;
}

export interface BuiltVersion {
  contentHash: ContentHash;
  rawSha256: string;
  sourceType: SourceType;
  workflow: WorkflowDefinition;
}

function normalizeEntryPoint(entryPoint: string | undefined): string {
  return (entryPoint ?? DEFAULT_ENTRY_POINT).replace(/^(\.\/|\/)+/, '');
}

function parseJsonSubmission(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (error) {
    throw new StepwiseError(
      'BAD_REQUEST',
      `the workflow is not valid JSON: ${(error as Error).message}`,
      [{ path: 'body', message: (error as Error).message }],
    );
  }
}

/**
 * The hash of a JSON submission. RFC 8785 has no form for what JSON.parse makes of some valid
 * JSON text (1e999 becomes Infinity; "\ud800" a lone surrogate): the submitter must fix those.
 */
function hashJsonSubmission(parsed: unknown): ContentHash {
  try {
    return contentHashOfJson(parsed);
  } catch (error) {
    throw new StepwiseError(
      'BAD_REQUEST',
      `the workflow cannot be canonicalised: ${(error as Error).message}`,
      [{ path: 'body', message: (error as Error).message }],
    );
  }
}

/**
 * Turns the bytes of a submission into a validated workflow and its content hash. Pure apart from
 * CPU: no database, no queue. Throws a StepwiseError (4xx) for anything the submitter must fix.
 */
export async function buildVersion(
  submission: Submission,
  limits: BundleLimits,
  catalog: ModuleCatalog,
): Promise<BuiltVersion> {
  let contentHash: ContentHash;
  let document: unknown;
  if (submission.sourceType === 'json') {
    const parsed = parseJsonSubmission(submission.bytes);
    // Resolved first: it refuses nesting too deep for the (recursive) canonical hash.
    document = new ReferenceResolver(new Map(), limits.maxUncompressedBytes).resolveDocument(
      parsed,
    );
    contentHash = hashJsonSubmission(parsed);
  } else {
    const entryPoint = normalizeEntryPoint(submission.entryPoint);
    const files = await readZipBundle(submission.bytes, entryPoint, limits);
    contentHash = contentHashOfFiles(files, entryPoint);
    document = new ReferenceResolver(files, limits.maxUncompressedBytes).resolveEntry(entryPoint);
  }
  const validation = validateWorkflow(document, catalog);
  if (!validation.ok) {
    const summary = validation.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new StepwiseError('WORKFLOW_INVALID', summary, validation.errors);
  }
  return {
    contentHash,
    rawSha256: sha256Hex(submission.bytes),
    sourceType: submission.sourceType,
    workflow: validation.workflow,
  };
}
