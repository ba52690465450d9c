import type { Connection } from 'mongoose';
import { WorkflowPlan, workflowDefinitionSchema } from '@stepwise/shared';
import { readResolvedWorkflow, type Models } from '@stepwise/shared/node';

const MAX_CACHED_PLANS = 500;

/** Versions never change once stored, so their plans are cached (least recently used out first). */
export function createPlanLoader(mongo: Connection, models: Models) {
  const cache = new Map<string, Promise<WorkflowPlan>>();
  return (userId: string, versionId: string): Promise<WorkflowPlan> => {
    // Keyed by owner too: a version is only ever found for its owner.
    const key = `${userId}/${versionId}`;
    const cached = cache.get(key);
    if (cached) {
      cache.delete(key);
      cache.set(key, cached);
      return cached;
    }
    const loading = (async () => {
      const version = await models.versions
        .findOne({ workflow_version_id: versionId, user_id: userId })
        .lean();
      if (!version) throw new Error(`version ${versionId} not found`);
      return new WorkflowPlan(
        workflowDefinitionSchema.parse(await readResolvedWorkflow(mongo, version)),
      );
    })();
    loading.catch(() => cache.delete(key));
    cache.set(key, loading);
    if (cache.size > MAX_CACHED_PLANS) cache.delete(cache.keys().next().value as string);
    return loading;
  };
}
