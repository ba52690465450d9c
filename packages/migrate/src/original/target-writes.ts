import type { mongo } from 'mongoose';

/**
 * Writes that a rerun repeats safely: every document the migration writes has an `_id` derived
 * from what it migrates, so a document already written by a killed run is refused as a duplicate
 * and left as it is (it holds the same content).
 */

const DUPLICATE_KEY = 11000;

interface WriteErrorInfo {
  code?: number;
  index?: number;
  errmsg?: string;
}

interface BulkFailure {
  writeErrors?: WriteErrorInfo[] | WriteErrorInfo;
}

function duplicateIndexes(error: unknown): { indexes: number[]; sample: string } | null {
  const failure = error as BulkFailure;
  const writeErrors = failure.writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  if (list.length === 0 || !list.every((entry) => entry.code === DUPLICATE_KEY)) return null;
  return {
    indexes: list.map((entry) => ('index' in entry ? (entry.index ?? -1) : -1)),
    sample: String(
      ('errmsg' in (list[0] ?? {}) ? (list[0] as { errmsg?: string }).errmsg : '') ?? '',
    ),
  };
}

/**
 * Inserts in unordered batches. A document refused as a duplicate must be there already under its
 * own `_id` (written by an earlier, interrupted run): one refused for clashing with a different
 * document on another unique key is an error, never passed over in silence.
 */
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
      const duplicates = duplicateIndexes(error);
      if (!duplicates) throw error;
      const ids = duplicates.indexes.map((index) => batch[index]?.['_id']);
      const present = await collection.countDocuments({ _id: { $in: ids } });
      if (ids.includes(undefined) || present < ids.length)
        throw new Error(
          `${collection.collectionName}: ${ids.length - present} document(s) clash with a different document on a unique key (${duplicates.sample})`,
          { cause: error },
        );
    }
  }
}
