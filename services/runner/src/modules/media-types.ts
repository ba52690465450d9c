import { fileTypeFromBuffer } from 'file-type';

/**
 * A file's media type read from its bytes (magic numbers), never from a name or a provider's
 * header: what a result really is decides whether it is accepted and how it is served.
 */
export async function detectMediaType(
  bytes: Buffer,
): Promise<{ mime: string; ext: string } | null> {
  const found = await fileTypeFromBuffer(bytes);
  return found ? { mime: found.mime, ext: found.ext } : null;
}
