import { readFileSync } from 'node:fs';
import {
  isSharded,
  routingFields,
  scatterGatherQueries,
  shardPlanOf,
  type LoggedMongoCommand,
  type ShardedCollection,
} from '@stepwise/shared/node';

/**
 * Judges the commands of a MONGO_COMMAND_LOG file against the shard plans (shard-keys.ts): a
 * command on a sharded collection must pin its routing fields with an equality or `$in` (or be a
 * declared scatter-gather query, by its comment); an insert must carry the whole shard key.
 */

/** Commands that select documents (their filter is logged) or add them. */
const checkedCommands = new Set([
  'find',
  'count',
  'distinct',
  'aggregate',
  'update',
  'delete',
  'findAndModify',
  'insert',
]);

export type Verdict =
  | { kind: 'routed' | 'unsharded' | 'scatter-gather' | 'not-checked' }
  | { kind: 'violation'; problem: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A value a shard key can be equal to (ids, numbers; ObjectIds and dates arrive as strings). */
const isKeyValue = (value: unknown) => ['string', 'number', 'boolean'].includes(typeof value);

/** An equality, or an `$in` of values: what sends a query to the chunks of those values only. */
function isEquality(condition: unknown): boolean {
  if (isKeyValue(condition)) return true;
  if (!isRecord(condition)) return false;
  if ('$eq' in condition) return isKeyValue(condition['$eq']);
  const list = condition['$in'];
  return Array.isArray(list) && list.length > 0 && list.every(isKeyValue);
}

/** True when every document the filter selects has `field` pinned to known values. */
export function pins(filter: unknown, field: string): boolean {
  if (!isRecord(filter)) return false;
  if (field in filter && isEquality(filter[field])) return true;
  const all = filter['$and'];
  if (Array.isArray(all) && all.some((part) => pins(part, field))) return true;
  const any = filter['$or'];
  return Array.isArray(any) && any.length > 0 && any.every((part) => pins(part, field));
}

function filtersOf(line: LoggedMongoCommand): unknown[] {
  if (line.command === 'update' || line.command === 'delete')
    return Array.isArray(line.filter) ? line.filter : [line.filter];
  return [line.filter];
}

function judgeSharded(line: LoggedMongoCommand, plan: ShardedCollection): Verdict {
  if (line.command === 'insert') {
    const fields = Object.keys(plan.shardKey);
    const lacking = (line.documents ?? []).filter((document) =>
      fields.some((field) => document[field] === undefined || document[field] === null),
    );
    return lacking.length === 0
      ? { kind: 'routed' }
      : {
          kind: 'violation',
          problem: `inserts ${lacking.length} document(s) without the shard key ${fields.join(', ')}`,
        };
  }
  const fields = routingFields(plan);
  const unrouted = filtersOf(line).filter((filter) => !fields.every((f) => pins(filter, f)));
  if (unrouted.length === 0) return { kind: 'routed' };
  const declared =
    line.comment === undefined
      ? undefined
      : (scatterGatherQueries as Record<string, { collection: string }>)[line.comment];
  if (declared?.collection === line.collection) return { kind: 'scatter-gather' };
  return {
    kind: 'violation',
    problem: `filter ${JSON.stringify(unrouted[0])} does not pin ${fields.join(', ')}`,
  };
}

export function judge(line: LoggedMongoCommand): Verdict {
  if (!checkedCommands.has(line.command) || line.collection === null)
    return { kind: 'not-checked' };
  const plan = shardPlanOf(line.collection);
  if (!plan)
    return { kind: 'violation', problem: `collection ${line.collection} has no shard plan` };
  return isSharded(plan) ? judgeSharded(line, plan) : { kind: 'unsharded' };
}

export function readCommandLog(file: string): LoggedMongoCommand[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((text) => text.trim() !== '')
    .map((text) => JSON.parse(text) as LoggedMongoCommand);
}

/** A violation as the failure lists it: which service sent what, on which collection. */
export function describeViolation(line: LoggedMongoCommand, problem: string): string {
  return `${line.service}: ${line.command} on ${line.collection ?? '?'}: ${problem}`;
}
