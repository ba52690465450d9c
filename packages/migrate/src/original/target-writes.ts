import type { mongo } from 'mongoose';

/**
 * Writes that a rerun repeats safely: every document the migration writes has an `_id` derived
 * from what it migrates, so a document already written by a killed run is refused as a duplicate
 * and left as it is (it holds the same content).
 */

const DUPLICATE_KEY = 11000;

interface BulkFailure {
  code?: number;
  writeErrors?: { code?: number }[] | { code?: number };
}

function onlyDuplicates(error: unknown): boolean {
  const failure = error as BulkFailure;
  const writeErrors = failure.writeErrors;
  if (Array.isArray(writeErrors) && writeErrors.length > 0)
    return writeErrors.every((entry) => entry.code === DUPLICATE_KEY);
  if (writeErrors && !Array.isArray(writeErrors)) return writeErrors.code === DUPLICATE_KEY;
  return failure.code === DUPLICATE_KEY;
}

/** Inserts in unordered batches; documents already there (by `_id`) are skipped. */
export async function insertOnce(
  collection: mongo.Collection,
  documents: readonly mongo.Document[],
  batchSize = 2_000,
): Promise<void> {
  for (let start = 0; start < documents.length; start += batchSize) {
    const batch = documents.slice(start, start + batchSize);
    try {
      await collection.insertMany(batch as mongo.OptionalId<mongo.Document>[], { ordered: false });
    } catch (error) {
      if (!onlyDuplicates(error)) throw error;
    }
  }
}
