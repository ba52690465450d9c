import type { SimulatedEvent, SimulatedRun } from './simulator-types.js';
import type { BulkWriter } from './bulk-writer.js';

/** Pieces both generations store the same way. */

/** config timestamps are naive local `datetime.now().isoformat()` strings, not dates (§2.12). */
export function pythonIsoString(at: Date): string {
  return `${at.toISOString().slice(0, 23)}${String(at.getUTCMilliseconds() % 7).padStart(3, '0')}`;
}

export async function writeConfig(writer: BulkWriter, at: Date): Promise<void> {
  const stamp = pythonIsoString(at);
  const docs = [
    {
      type: 'db.query',
      name: 'recent_scenes',
      value: {
        collection: 'events',
        pipeline: [
          { $match: { event_type: 'module_completed', module_name: 'select_scene' } },
          { $limit: 20 },
        ],
      },
    },
    {
      type: 'db.table_schema',
      name: 'scenes',
      value: {
        columns: [
          { name: 'title', type: 'string' },
          { name: 'mood', type: 'string' },
        ],
      },
    },
    { type: 'app', name: 'ui', value: { theme: 'dark', default_provider: 'openai' } },
  ];
  for (const doc of docs)
    await writer.add('config', { ...doc, updated_at: stamp, created_at: stamp }, at);
}

/** option_usage: one upserted row per (template, step, module, option), created_at kept (§2.11). */
export class OptionUsage {
  private readonly rows = new Map<
    string,
    {
      workflow_template_id: string;
      step_id: string;
      module_name: string;
      option: string;
      created_at: Date;
      updated_at: Date;
    }
  >();

  record(templateId: string, run: SimulatedRun): void {
    for (const pick of run.option_picks) {
      const key = [templateId, pick.step_id, pick.module_name, pick.option].join('\u0000');
      const row = this.rows.get(key);
      if (row) {
        if (pick.at > row.updated_at) row.updated_at = pick.at;
        if (pick.at < row.created_at) row.created_at = pick.at;
      } else {
        this.rows.set(key, {
          workflow_template_id: templateId,
          step_id: pick.step_id,
          module_name: pick.module_name,
          option: pick.option,
          created_at: pick.at,
          updated_at: pick.at,
        });
      }
    }
  }

  async write(writer: BulkWriter): Promise<void> {
    for (const row of this.rows.values())
      await writer.add('option_usage', { ...row }, row.created_at);
  }
}

/** The stored event document; step_id/module_name only when given (§4.1). */
export function eventDocument(
  event: SimulatedEvent,
  runKey: Record<string, string>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    event_id: event.event_id,
    ...runKey,
    branch_id: event.branch_id,
    ...extra,
    event_type: event.event_type,
    timestamp: event.timestamp,
    data: event.data,
  };
  if (event.step_id) doc['step_id'] = event.step_id;
  if (event.module_name) doc['module_name'] = event.module_name;
  return doc;
}

export function countEvent(counts: Record<string, number>, type: string): void {
  counts[type] = (counts[type] ?? 0) + 1;
}
