import { z } from 'zod';
import { builtInModuleDeclarations, type ExecutableModule } from '@stepwise/shared';
import { attemptOwner, type ArtifactStore } from '../artifacts/artifact-store.js';
import { ModuleFailure } from '../engine/module-failure.js';

function encode(
  content: unknown,
  encoding: string | undefined,
): { bytes: Buffer; defaultType: string } {
  const chosen = encoding ?? (typeof content === 'string' ? 'text' : 'json');
  switch (chosen) {
    case 'text':
      return {
        bytes: Buffer.from(String(content), 'utf8'),
        defaultType: 'text/plain; charset=utf-8',
      };
    case 'base64':
      if (typeof content !== 'string' || !/^[A-Za-z0-9+/=\s_-]*$/.test(content))
        throw new ModuleFailure('INPUT_INVALID', 'base64 content must be a base64 string', false);
      return { bytes: Buffer.from(content, 'base64'), defaultType: 'application/octet-stream' };
    default:
      return {
        bytes: Buffer.from(JSON.stringify(content), 'utf8'),
        defaultType: 'application/json',
      };
  }
}

export function createArtifactSave(store: ArtifactStore, maxBytes: number): ExecutableModule {
  return {
    id: 'artifact.save',
    ...builtInModuleDeclarations['artifact.save'],
    interactive: false,
    outputs: z.object({ artifact_id: z.string(), size: z.number().int(), sha256: z.string() }),
    async execute(inputs, context) {
      const { bytes, defaultType } = encode(
        inputs['content'],
        typeof inputs['encoding'] === 'string' ? inputs['encoding'] : undefined,
      );
      if (bytes.length > maxBytes)
        throw new ModuleFailure(
          'ARTIFACT_TOO_LARGE',
          `the artifact is ${bytes.length} bytes; at most ${maxBytes} are allowed`,
          false,
        );
      const saved = await store.save({
        ...attemptOwner(context.run),
        name: String(inputs['name']),
        kind: (inputs['kind'] as 'deliverable' | 'debug' | 'state' | undefined) ?? 'deliverable',
        contentType:
          typeof inputs['content_type'] === 'string' ? inputs['content_type'] : defaultType,
        bytes,
      });
      return { artifact_id: saved.artifact_id, size: saved.size, sha256: saved.sha256 };
    },
  };
}
