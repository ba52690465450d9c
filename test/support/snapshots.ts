import type { Connection } from 'mongoose';

/**
 * Every document of every collection, to assert that a refused request wrote nothing.
 * `last_used_at` of access keys is left out: authenticating a request may stamp it, and that is
 * bookkeeping about the caller, not a change the request made.
 */
export async function snapshotDatabase(connection: Connection): Promise<Record<string, unknown[]>> {
  const db = connection.db;
  if (!db) throw new Error('connection is not open');
  const collections = await db.listCollections().toArray();
  const dump: Record<string, unknown[]> = {};
  for (const { name } of collections.sort((a, b) => a.name.localeCompare(b.name))) {
    const documents = await db.collection(name).find().sort({ _id: 1 }).toArray();
    dump[name] = documents.map((document) => {
      if (name !== 'access_keys') return document;
      const { last_used_at: _ignored, ...rest } = document;
      return rest;
    });
  }
  return dump;
}
