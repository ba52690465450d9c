import { Schema, type Connection } from 'mongoose';
import type { ArtifactRecord } from '../records.js';
import type { Models } from './index.js';
// Type only: shard-keys.ts reads this folder's index at load time, which imports this module.
import type { ScatterGatherQuery } from './shard-keys.js';

/**
 * Small unsharded lookups from a global key to the owner of what it names, so that a request
 * holding only that key can still reach a sharded collection through its shard key
 * (docs/scaling.md, "MongoDB sharding"). Each is written before the document it points at.
 */

/** A client's Idempotency-Key (scoped to its user), taken by the command it first came with. */
export interface RequestKeyRecord {
  /** `clientRequestKey(user_id, Idempotency-Key)`. */
  client_request_key: string;
  user_id: string;
  workflow_run_id: string;
  command_id: string;
  /** The command number the claim's command took: a stale claim is given up by filling it. */
  seq?: number;
  created_at: Date;
}

/** Where an artifact lives: `artifacts` is sharded by run, and GET /v1/artifacts/{id} has no run. */
export interface ArtifactOwnerRecord {
  artifact_id: string;
  workflow_run_id: string;
  user_id: string;
}

const requestKeySchema = new Schema<RequestKeyRecord>(
  {
    client_request_key: { type: String, required: true },
    user_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    command_id: { type: String, required: true },
    seq: { type: Number },
    created_at: { type: Date, required: true },
  },
  { collection: 'request_keys', versionKey: false },
);
// A client's Idempotency-Key names one command for ever: the claim of the first request wins.
requestKeySchema.index({ client_request_key: 1 }, { unique: true });

const artifactOwnerSchema = new Schema<ArtifactOwnerRecord>(
  {
    artifact_id: { type: String, required: true },
    workflow_run_id: { type: String, required: true },
    user_id: { type: String, required: true },
  },
  { collection: 'artifact_owners', versionKey: false },
);
artifactOwnerSchema.index({ artifact_id: 1 }, { unique: true });

export function createLookupModels(connection: Connection) {
  return {
    requestKeys: connection.model<RequestKeyRecord>('RequestKey', requestKeySchema),
    artifactOwners: connection.model<ArtifactOwnerRecord>('ArtifactOwner', artifactOwnerSchema),
  };
}

type ArtifactModels = Pick<Models, 'artifacts' | 'artifactOwners'>;

/** Stores an artifact's description, its lookup first (so that no artifact is ever unreachable). */
export async function insertArtifactRecord(
  models: ArtifactModels,
  record: ArtifactRecord,
): Promise<void> {
  await models.artifactOwners.collection.insertOne({
    artifact_id: record.artifact_id,
    workflow_run_id: record.workflow_run_id,
    user_id: record.user_id,
  });
  await models.artifacts.collection.insertOne({ ...record });
}

/**
 * An artifact of the user's by its id alone (GET /v1/artifacts/{id}): its run from the lookup,
 * then the artifact by its run. Another user's artifact is as unknown as a made-up id.
 */
export async function findArtifactOfUser(
  models: ArtifactModels,
  userId: string,
  artifactId: string,
): Promise<ArtifactRecord | null> {
  const owner = await models.artifactOwners.findOne({ artifact_id: artifactId }).lean();
  if (!owner) return findLegacyArtifact(models, userId, artifactId);
  if (owner.user_id !== userId) return null;
  return models.artifacts
    .findOne({
      workflow_run_id: owner.workflow_run_id,
      artifact_id: artifactId,
      user_id: userId,
      // An artifact of a run being deleted is gone to its owner already.
      deletion_id: { $exists: false },
    })
    .lean<ArtifactRecord>();
}

/**
 * An artifact stored before `artifact_owners` existed has no row there: found the old way (a
 * query every shard answers, declared as such), and its row written so the next read is routed.
 * A made-up id costs the same query, which is why it is asked only when the lookup misses.
 */
async function findLegacyArtifact(
  models: ArtifactModels,
  userId: string,
  artifactId: string,
): Promise<ArtifactRecord | null> {
  const artifact = await models.artifacts
    .findOne({ artifact_id: artifactId, user_id: userId, deletion_id: { $exists: false } })
    .comment('legacy:artifact-without-owner' satisfies ScatterGatherQuery)
    .lean<ArtifactRecord>();
  if (!artifact) return null;
  await models.artifactOwners.collection
    .updateOne(
      { artifact_id: artifactId },
      {
        $setOnInsert: {
          artifact_id: artifactId,
          workflow_run_id: artifact.workflow_run_id,
          user_id: artifact.user_id,
        },
      },
      { upsert: true },
    )
    .catch(() => undefined);
  return artifact;
}
