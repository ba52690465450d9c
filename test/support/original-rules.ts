import type { mongo } from 'mongoose';

/**
 * An independent reading of the ORIGINAL system's state rules, straight from a source database
 * of either generation (docs/research/original-system.md §4.4, §5.2, §5.5, §6.1). Tests compare
 * what a migrated run shows with what the original would have shown for the same log.
 *
 * Written from the research text, not from the fixture generator, so the two can disagree.
 */

type Db = mongo.Db;
type Doc = Record<string, unknown>;

interface LineageEntry {
  branch_id: string;
  cutoff_event_id: string | null;
}

/** Where a run lives: multi-user `workflow_runs` keyed by workflow_run_id, single-user `workflows` by workflow_id. */
interface RunLocation {
  runKey: 'workflow_run_id' | 'workflow_id';
  currentBranchId: string | null;
}

/** The six provider nodes the original's usage summary adds up (§6.1). */
const usageNodes = [
  'llm.openai',
  'llm.anthropic',
  'media.openai',
  'media.leonardo',
  'media.midjourney',
  'media.elevenlabs',
];

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

async function locateRun(db: Db, runId: string): Promise<RunLocation> {
  const multi = await db.collection('workflow_runs').findOne({ workflow_run_id: runId });
  if (multi)
    return { runKey: 'workflow_run_id', currentBranchId: text(multi['current_branch_id']) };
  const single = await db.collection('workflows').findOne({ workflow_id: runId });
  if (single) return { runKey: 'workflow_id', currentBranchId: text(single['current_branch_id']) };
  throw new Error(`run ${runId} is in neither workflow_runs nor workflows`);
}

/**
 * §4.4 get_branch_lineage: the stored `lineage` when present; otherwise walk parent_branch_id to
 * the root, each ancestor cut at its child's parent_event_id. Null for a run without a branch:
 * §3.2 backfills such a run's branchless events onto one new root branch, so all of them count.
 */
function lineageOf(branchId: string | null, branchesById: Map<string, Doc>): LineageEntry[] | null {
  if (branchId === null) return null;
  const branch = branchesById.get(branchId);
  if (!branch) return [{ branch_id: branchId, cutoff_event_id: null }];
  const stored = branch['lineage'];
  if (Array.isArray(stored)) {
    return stored.map((entry: Doc) => ({
      branch_id: String(entry['branch_id']),
      cutoff_event_id: text(entry['cutoff_event_id']),
    }));
  }
  const walked: LineageEntry[] = [{ branch_id: branchId, cutoff_event_id: null }];
  let child = branch;
  const seen = new Set([branchId]);
  while (text(child['parent_branch_id'])) {
    const parentId = String(child['parent_branch_id']);
    if (seen.has(parentId)) break;
    seen.add(parentId);
    walked.unshift({ branch_id: parentId, cutoff_event_id: text(child['parent_event_id']) });
    const parent = branchesById.get(parentId);
    if (!parent) break;
    child = parent;
  }
  return walked;
}

/** §4.4 get_lineage_events: per lineage entry, its branch's events up to the cutoff; by event_id. */
function lineageEvents(events: Doc[], lineage: LineageEntry[] | null): Doc[] {
  const selected =
    lineage === null
      ? events.filter((event) => event['branch_id'] === undefined || event['branch_id'] === null)
      : events.filter((event) => {
          const entry = lineage.find((l) => l.branch_id === event['branch_id']);
          if (!entry) return false;
          return (
            entry.cutoff_event_id === null || String(event['event_id']) <= entry.cutoff_event_id
          );
        });
  return selected.sort((a, b) =>
    String(a['event_id']) < String(b['event_id'])
      ? -1
      : String(a['event_id']) > String(b['event_id'])
        ? 1
        : 0,
  );
}

/** §5.2 get_module_outputs (newest version): module outputs by name, then `_state_mapped`, last write wins. */
function foldFlatState(ordered: Doc[]): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const event of ordered) {
    const type = event['event_type'];
    if (type !== 'module_completed' && type !== 'sub_action_completed') continue;
    const data = (event['data'] ?? {}) as Doc;
    const moduleName = text(event['module_name']);
    if (type === 'module_completed' && moduleName) outputs[moduleName] = data;
    const mapped = data['_state_mapped'];
    if (mapped && typeof mapped === 'object' && !Array.isArray(mapped))
      Object.assign(outputs, mapped);
  }
  return outputs;
}

/**
 * §5.5: the data of the latest interaction_requested when there is no interaction_response at all
 * or the latest response is older. Not matched by interaction_id, exactly as the original did.
 */
function pendingOf(ordered: Doc[]): Record<string, unknown> | null {
  let request: Doc | null = null;
  let response: Doc | null = null;
  for (const event of ordered) {
    if (event['event_type'] === 'interaction_requested') request = event;
    else if (event['event_type'] === 'interaction_response') response = event;
  }
  if (!request) return null;
  if (response && String(response['event_id']) > String(request['event_id'])) return null;
  return (request['data'] ?? {}) as Record<string, unknown>;
}

function nodeNumber(record: Doc, node: string, field: string): number {
  const value = (record[node] as Doc | undefined)?.[field];
  return typeof value === 'number' ? value : 0;
}

/**
 * §6.1: the usage summary adds `<node>.total_cost` over the six provider nodes. A legacy flat
 * record (single-user era) has token counts but no price, so it adds 0 to the cost; its
 * `total_tokens` counts in the token total, as the original's summary counted them.
 */
function usageOf(records: Doc[]): { cost: number; tokens: number } {
  let microDollars = 0;
  let tokens = 0;
  for (const record of records) {
    for (const node of usageNodes) {
      microDollars += Math.round(nodeNumber(record, node, 'total_cost') * 1_000_000);
      tokens += nodeNumber(record, node, 'total_tokens');
    }
    if (typeof record['total_tokens'] === 'number') tokens += record['total_tokens'];
  }
  return { cost: microDollars / 1_000_000, tokens };
}

async function runEventsAndBranches(
  db: Db,
  runId: string,
  types?: string[],
): Promise<{ ordered: Doc[] }> {
  const location = await locateRun(db, runId);
  const branches = await db
    .collection('branches')
    .find({ [location.runKey]: runId })
    .toArray();
  const branchesById = new Map(branches.map((b) => [String(b['branch_id']), b as Doc]));
  const filter: Doc = { [location.runKey]: runId };
  if (types) filter['event_type'] = { $in: types };
  const events = (await db.collection('events').find(filter).toArray()) as Doc[];
  return { ordered: lineageEvents(events, lineageOf(location.currentBranchId, branchesById)) };
}

export async function originalFlatState(db: Db, runId: string): Promise<Record<string, unknown>> {
  const { ordered } = await runEventsAndBranches(db, runId, [
    'module_completed',
    'sub_action_completed',
  ]);
  return foldFlatState(ordered);
}

export async function originalPendingInteraction(
  db: Db,
  runId: string,
): Promise<Record<string, unknown> | null> {
  const { ordered } = await runEventsAndBranches(db, runId, [
    'interaction_requested',
    'interaction_response',
  ]);
  return pendingOf(ordered);
}

async function runTokens(db: Db, runId: string): Promise<Doc[]> {
  const location = await locateRun(db, runId);
  return (await db
    .collection('tokens')
    .find({ [location.runKey]: runId })
    .toArray()) as Doc[];
}

/** Sum of total_cost (dollars) of the run's usage records (§6.1); legacy flat records add 0. */
export async function originalUsageTotal(db: Db, runId: string): Promise<number> {
  return usageOf(await runTokens(db, runId)).cost;
}

/** Sum of total_tokens of the run's usage records: LLM provider nodes and legacy flat records. */
export async function originalTokenTotal(db: Db, runId: string): Promise<number> {
  return usageOf(await runTokens(db, runId)).tokens;
}

export interface OriginalRunView {
  flatState: Record<string, unknown>;
  pendingInteraction: Record<string, unknown> | null;
  usageTotal: number;
  tokenTotal: number;
  status: string | null;
}

function groupBy(docs: Doc[], key: (doc: Doc) => string | null): Map<string, Doc[]> {
  const groups = new Map<string, Doc[]>();
  for (const doc of docs) {
    const k = key(doc);
    if (k === null) continue;
    const list = groups.get(k);
    if (list) list.push(doc);
    else groups.set(k, [doc]);
  }
  return groups;
}

const runKeyOf = (doc: Doc): string | null =>
  text(doc['workflow_run_id']) ?? text(doc['workflow_id']);

/**
 * The same views for many runs, reading each collection once (10,000 runs in seconds). Without
 * `runIds`, every run of the database, sub-action child runs included.
 */
export async function originalRunViews(
  db: Db,
  runIds?: string[],
): Promise<Map<string, OriginalRunView>> {
  const [multiRuns, singleRuns, branches, events, tokens] = await Promise.all([
    db
      .collection('workflow_runs')
      .find({}, { projection: { workflow_run_id: 1, current_branch_id: 1, status: 1 } })
      .toArray(),
    db
      .collection('workflows')
      .find({}, { projection: { workflow_id: 1, current_branch_id: 1, status: 1 } })
      .toArray(),
    db.collection('branches').find({}).toArray(),
    db
      .collection('events')
      .find({
        event_type: {
          $in: [
            'module_completed',
            'sub_action_completed',
            'interaction_requested',
            'interaction_response',
          ],
        },
      })
      .toArray(),
    db.collection('tokens').find({}).toArray(),
  ]);
  const branchesById = new Map(branches.map((b) => [String(b['branch_id']), b as Doc]));
  const eventsByRun = groupBy(events as Doc[], runKeyOf);
  const tokensByRun = groupBy(tokens as Doc[], runKeyOf);
  const wanted = runIds ? new Set(runIds) : null;
  const views = new Map<string, OriginalRunView>();
  for (const run of [...multiRuns, ...singleRuns] as Doc[]) {
    const runId = runKeyOf(run);
    if (runId === null || (wanted && !wanted.has(runId))) continue;
    const ordered = lineageEvents(
      eventsByRun.get(runId) ?? [],
      lineageOf(text(run['current_branch_id']), branchesById),
    );
    const usage = usageOf(tokensByRun.get(runId) ?? []);
    views.set(runId, {
      flatState: foldFlatState(ordered),
      pendingInteraction: pendingOf(ordered),
      usageTotal: usage.cost,
      tokenTotal: usage.tokens,
      status: text(run['status']),
    });
  }
  return views;
}
