import {
  translateOriginalWorkflow,
  workflowDefinitionSchema,
  type OriginalWorkflowTranslation,
} from '@stepwise/shared';
import { ApiClient, CliError } from './api-client.js';
import { print } from './format.js';
import { resolveOriginalWorkflow } from './original-workflow.js';

/**
 * `stepwise import-workflow ENTRY`: a workflow of the original system (its entry file, e.g.
 * workflow_v3.json, with the files it `$ref`s) is resolved, translated to Stepwise's format, and,
 * unless --dry-run, submitted as a new version of its template (named by the original
 * workflow_id). What has no equivalent is listed by its path in the original document.
 */
export interface ImportWorkflowOptions {
  dryRun?: boolean;
  json?: boolean;
  strict?: boolean;
}

interface Submitted {
  workflow_template_name: string;
  workflow_version_id: string;
  created: boolean;
  content_hash: string;
}

function countModules(workflow: Record<string, unknown>): { steps: number; modules: number } {
  const steps = Array.isArray(workflow['steps']) ? (workflow['steps'] as unknown[]) : [];
  const modules = steps.reduce<number>((total, step) => {
    const list = (step as { modules?: unknown[] }).modules;
    return total + (Array.isArray(list) ? list.length : 0);
  }, 0);
  return { steps: steps.length, modules };
}

function describe(translation: OriginalWorkflowTranslation): string {
  const { steps, modules } = countModules(translation.workflow);
  const lines = [
    `translated: ${String(translation.workflow['workflow_id'])}, ${steps} step(s), ${modules} module(s)`,
  ];
  if (translation.untranslated.length === 0) lines.push('untranslated: nothing');
  else {
    lines.push(`untranslated (${translation.untranslated.length}), by path in the original:`);
    for (const item of translation.untranslated)
      lines.push(
        `  ${item.path === '' ? '(document)' : item.path}${item.module_id ? ` [${item.module_id}]` : ''}: ${item.reason}`,
      );
  }
  return lines.join('\n');
}

export async function importWorkflow(
  entryFile: string,
  options: ImportWorkflowOptions,
): Promise<void> {
  const original = await resolveOriginalWorkflow(entryFile);
  const translation = translateOriginalWorkflow(original);
  const valid = workflowDefinitionSchema.safeParse(translation.workflow);
  const strictFailure = options.strict === true && translation.untranslated.length > 0;
  let submitted: Submitted | null = null;
  if (!options.dryRun && !strictFailure) {
    if (!valid.success)
      throw new CliError(
        `nothing to submit: what translates is not a valid Stepwise workflow (${valid.error.issues
          .map((issue) => `${issue.path.join('.') || 'document'}: ${issue.message}`)
          .join('; ')})`,
        'IMPORT_INVALID',
      );
    const client = await ApiClient.fromStoredLogin();
    // The same call as `stepwise submit` with a .json file.
    submitted = (
      await client.request<Submitted>('POST', '/v1/workflows', { json: translation.workflow })
    ).body;
  }
  if (options.json) print(JSON.stringify({ ...translation, submitted }, null, 2));
  else {
    print(describe(translation));
    if (submitted)
      print(
        `${submitted.created ? 'created' : 'unchanged'}: ${submitted.workflow_template_name} ${submitted.workflow_version_id}`,
      );
    else if (options.dryRun) print('dry run: nothing submitted');
  }
  if (strictFailure)
    throw new CliError(
      `--strict: ${translation.untranslated.length} part(s) of the workflow did not translate; nothing submitted`,
      'IMPORT_INCOMPLETE',
    );
}
