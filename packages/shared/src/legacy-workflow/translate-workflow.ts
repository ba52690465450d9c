import { unstorableKeyReason } from '../storable-keys.js';
import { workflowDefinitionSchema } from '../workflow/definition.js';
import {
  isJsonObject,
  keptAsIs,
  ModuleSite,
  type JsonObject,
  type TranslatedModule,
} from './module-site.js';
import { moduleTranslators, noEquivalentReasons } from './modules.js';
import { isSlug, SlugScope, toSlug } from './names.js';
import {
  UntranslatedReport,
  type OriginalPath,
  type OriginalWorkflowTranslation,
  type TranslateOriginalWorkflowOptions,
} from './report.js';

const MODULE_KEYS = new Set([
  'module_id',
  'name',
  'description',
  'inputs',
  'outputs_to_state',
  'retryable',
  'sub_actions',
  'addons',
]);
const STEP_KEYS = new Set(['step_id', 'name', 'description', 'modules']);
const WORKFLOW_KEYS = new Set([
  'workflow_id',
  'name',
  'description',
  'version',
  'initial_state',
  'config',
  'status_display',
  'steps',
]);

interface Translator {
  report: UntranslatedReport;
  config: JsonObject;
  keepUntranslated: boolean;
  moved: OriginalWorkflowTranslation['moved'];
}

/** The name the original's events give a module: its `name`, or its `module_id` (research §5.2). */
function eventNameOf(module: unknown): string | null {
  if (!isJsonObject(module)) return null;
  if (typeof module['name'] === 'string' && module['name'] !== '') return module['name'];
  return typeof module['module_id'] === 'string' ? module['module_id'] : null;
}

/** A slug for an original name, reporting a rename (the original's retry and jump targets use names). */
function slugFor(
  scope: SlugScope,
  original: unknown,
  fallback: string,
  at: OriginalPath,
  report: UntranslatedReport,
): string {
  const text = typeof original === 'string' ? original : '';
  const wanted = isSlug(text) ? text : toSlug(text, fallback);
  const claimed = scope.claim(wanted);
  if (claimed !== text)
    report.add(
      at,
      text === ''
        ? `missing; named '${claimed}'`
        : `renamed '${text}' to '${claimed}' (Stepwise names are 1-64 lower-case letters, digits, _ or -, unique)`,
    );
  return claimed;
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' ? value.slice(0, max) : undefined;
}

function reportUnknownKeys(
  value: JsonObject,
  known: ReadonlySet<string>,
  at: OriginalPath,
  report: UntranslatedReport,
  moduleId?: string,
): void {
  for (const key of Object.keys(value))
    if (!known.has(key))
      report.add([...at, key], `'${key}' has no equivalent in Stepwise's format`, moduleId);
}

/** retryable, sub_actions and addons: what the original offered inside a question. */
function reportQuestionExtras(site: ModuleSite): void {
  const retryable = site.original['retryable'];
  const options = isJsonObject(retryable) ? retryable['options'] : undefined;
  (Array.isArray(options) ? options : []).forEach((option: unknown, index) => {
    if (!isJsonObject(option) || option['mode'] === 'continue') return;
    const target = [option['target_step'], option['target_module']]
      .filter((part) => typeof part === 'string')
      .join('/');
    site.untranslated(
      ['retryable', 'options', index],
      option['mode'] === 'jump'
        ? `a jump back to '${target}' offered in the question: Stepwise modules have no per-option jump; retry the run at that step (POST /v1/runs/{id}/retry) or branch it`
        : `a retry of '${target}' offered in the question: Stepwise modules have no per-option retry; retry the run (POST /v1/runs/{id}/retry with module and feedback, or \`stepwise retry\`)`,
    );
  });
  const subActions = site.original['sub_actions'];
  if (Array.isArray(subActions))
    subActions.forEach((_action: unknown, index) =>
      site.untranslated(
        ['sub_actions', index],
        'sub-actions (work started from inside a waiting question) have no equivalent in Stepwise',
      ),
    );
  if (site.original['addons'] !== undefined)
    site.untranslated(
      ['addons'],
      'select addons have no equivalent (usage history: user.select track_key records when an option was last chosen)',
    );
}

function translateModule(
  module: unknown,
  at: OriginalPath,
  names: SlugScope,
  translator: Translator,
): (TranslatedModule & { name: string; description?: string }) | null {
  const { report } = translator;
  if (!isJsonObject(module) || typeof module['module_id'] !== 'string') {
    report.add(at, 'not a module (an object with a module_id)');
    return null;
  }
  const moduleId = module['module_id'];
  const inputs = isJsonObject(module['inputs']) ? module['inputs'] : {};
  const site = new ModuleSite(at, module, inputs, translator.config, report);
  const name = slugFor(names, module['name'], 'module', [...at, 'name'], report);
  reportUnknownKeys(module, MODULE_KEYS, at, report, moduleId);
  const translate = moduleTranslators[moduleId];
  let translated: TranslatedModule;
  if (translate) {
    translated = translate(site);
    reportQuestionExtras(site);
  } else {
    report.add(
      at,
      noEquivalentReasons[moduleId] ?? `no Stepwise module does what '${moduleId}' does`,
      moduleId,
    );
    reportQuestionExtras(site);
    if (!translator.keepUntranslated) return null;
    translated = keptAsIs(site);
  }
  const description = text(module['description'], 2000);
  return { ...translated, name, ...(description === undefined ? {} : { description }) };
}

function translateStep(
  step: unknown,
  at: OriginalPath,
  stepIds: SlugScope,
  translator: Translator,
): JsonObject | null {
  const { report } = translator;
  if (!isJsonObject(step)) {
    report.add(at, 'not a step object');
    return null;
  }
  if (typeof step['$ref'] === 'string') {
    report.add(at, `an unresolved $ref ('${step['$ref']}'): resolve the workflow folder first`);
    return null;
  }
  reportUnknownKeys(step, STEP_KEYS, at, report);
  const stepId = slugFor(
    stepIds,
    step['step_id'],
    `step_${String(at.at(-1))}`,
    [...at, 'step_id'],
    report,
  );
  const names = new SlugScope();
  const originals = Array.isArray(step['modules']) ? step['modules'] : [];
  const originalStepId = typeof step['step_id'] === 'string' ? step['step_id'] : null;
  const modules = originals
    .map((module: unknown, index) => {
      const translated = translateModule(module, [...at, 'modules', index], names, translator);
      const from = eventNameOf(module);
      if (
        translated !== null &&
        from !== null &&
        originalStepId !== null &&
        (from !== translated.name || originalStepId !== stepId)
      )
        translator.moved.push({
          from: { step_id: originalStepId, module_name: from },
          to: { step_id: stepId, module_name: translated.name },
        });
      return translated;
    })
    .filter((module) => module !== null);
  if (modules.length === 0) {
    report.add(at, 'no module of this step translates, so the step is left out');
    return null;
  }
  const name = text(step['name'], 200);
  const description = text(step['description'], 2000);
  return {
    step_id: stepId,
    ...(name === undefined ? {} : { name }),
    ...(description === undefined ? {} : { description }),
    modules,
  };
}

/** Top-level JSON objects (initial_state, config), without keys no Stepwise document may hold. */
function storable(value: unknown, at: OriginalPath, report: UntranslatedReport): JsonObject {
  if (value === undefined) return {};
  if (!isJsonObject(value)) {
    report.add(at, 'not a JSON object');
    return {};
  }
  const entries = Object.entries(value).filter(([key]) => {
    const reason = unstorableKeyReason(key);
    if (reason !== null) report.add([...at, key], `dropped: ${reason}`);
    return reason === null;
  });
  return Object.fromEntries(entries);
}

/**
 * Translates a workflow of the original system (its `$ref`s already resolved, as the original
 * stores it in `resolved_workflow`) to a Stepwise workflow document, listing by path what has no
 * equivalent. Pure: it reads nothing and never throws on a malformed document.
 */
export function translateOriginalWorkflow(
  original: unknown,
  options: TranslateOriginalWorkflowOptions = {},
): OriginalWorkflowTranslation {
  const report = new UntranslatedReport();
  if (!isJsonObject(original)) {
    report.add([], 'not a workflow (a JSON object)');
    return { workflow: {}, untranslated: report.items, runnable: false, moved: [] };
  }
  const config = storable(original['config'], ['config'], report);
  const translator: Translator = {
    report,
    config,
    keepUntranslated: options.keepUntranslated === true,
    moved: [],
  };
  reportUnknownKeys(original, WORKFLOW_KEYS, [], report);
  const workflowId = slugFor(
    new SlugScope(),
    original['workflow_id'],
    'imported_workflow',
    ['workflow_id'],
    report,
  );
  // `version` is a label only: every submission is a Stepwise version, named by its content.
  if (original['status_display'] !== undefined)
    report.add(
      ['status_display'],
      'status fields shown beside a run have no equivalent (a question can show context with display)',
    );
  const stepIds = new SlugScope();
  const steps = (Array.isArray(original['steps']) ? original['steps'] : [])
    .map((step: unknown, index) => translateStep(step, ['steps', index], stepIds, translator))
    .filter((step) => step !== null);
  if (!Array.isArray(original['steps'])) report.add(['steps'], 'missing: a workflow needs steps');
  const name = text(original['name'], 200);
  const description = text(original['description'], 5000);
  const workflow: JsonObject = {
    workflow_id: workflowId,
    ...(name === undefined ? {} : { name }),
    ...(description === undefined ? {} : { description }),
    initial_state: storable(original['initial_state'], ['initial_state'], report),
    config,
    steps,
  };
  const valid = workflowDefinitionSchema.safeParse(workflow).success;
  return {
    workflow,
    untranslated: report.items,
    runnable: valid && report.items.length === 0,
    moved: translator.moved,
  };
}
