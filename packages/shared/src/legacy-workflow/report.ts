import { z } from 'zod';
import { formatIssuePath } from '../errors.js';

/**
 * What importing a workflow of the original system (SachiraChin/workflowmanager-showcase) gives:
 * the Stepwise document, and every part of the original that has no equivalent, by its JSON path
 * in the original document (legacy.md, "Workflow definitions"). The CLI prints this as JSON.
 */

export const untranslatedItemSchema = z
  .strictObject({
    /** Where in the ORIGINAL document, e.g. `steps[2].modules[1]` or `...inputs.system`. */
    path: z.string(),
    /** The original module_id, when the item belongs to a module. */
    module_id: z.string().optional(),
    reason: z.string(),
  })
  .meta({
    id: 'UntranslatedItem',
    description: 'A part of an original workflow with no equivalent',
  });
export type UntranslatedItem = z.infer<typeof untranslatedItemSchema>;

export const originalWorkflowTranslationSchema = z
  .strictObject({
    workflow: z.record(z.string(), z.unknown()),
    untranslated: z.array(untranslatedItemSchema),
    /** Nothing untranslated, and workflowDefinitionSchema accepts `workflow`. */
    runnable: z.boolean(),
    /**
     * Modules that stand elsewhere by name in the translation (a step id or module name that was
     * not a slug, a clash, a module without a name): where the original's events name them, and
     * where the translation has them. A migrated log is renamed with it.
     */
    moved: z.array(
      z.object({
        from: z.object({ step_id: z.string(), module_name: z.string() }),
        to: z.object({ step_id: z.string(), module_name: z.string() }),
      }),
    ),
  })
  .meta({
    description:
      'An original workflow translated to a Stepwise document, with what did not translate',
  });
export type OriginalWorkflowTranslation = z.infer<typeof originalWorkflowTranslationSchema>;

export interface TranslateOriginalWorkflowOptions {
  /**
   * Keep modules without an equivalent, with their original module_id (the runner then fails them
   * as "unknown module"), so that every step and module of a migrated run still exists by name.
   */
  keepUntranslated?: boolean;
}

/** A JSON path in the original document, as a list of keys and indices. */
export type OriginalPath = readonly (string | number)[];

export function pathText(path: OriginalPath): string {
  return formatIssuePath(path);
}

/** Collects what did not translate; each item is reported once per path and reason. */
export class UntranslatedReport {
  readonly items: UntranslatedItem[] = [];
  private readonly seen = new Set<string>();

  add(path: OriginalPath, reason: string, moduleId?: string): void {
    const text = pathText(path);
    const key = `${text}\u0000${reason}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push({
      path: text,
      ...(moduleId === undefined ? {} : { module_id: moduleId }),
      reason,
    });
  }
}
