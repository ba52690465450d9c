import { z } from 'zod';
import { storableObject } from '../schema-docs.js';
import { detailsFromZodError, formatIssuePath, type ErrorDetail } from '../errors.js';
import type { ModuleCatalog } from './module-declarations.js';
import { displayDefinitionSchema } from './interaction-requests.js';
import { interactionAnswerSchemas, pluginAnswerSchema } from './interaction-answers.js';
import { moduleDeadlineFields } from './deadlines.js';
import { credentialErrors, moduleCredentialsSchema } from './credentials.js';

/** The workflow document a user submits (workflow-format.md, "Shape"), after `$ref` resolution. */

const slugPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const slug = z
  .string()
  .regex(
    slugPattern,
    'must be 1-64 lower-case letters, digits, _ or -, starting with a letter or digit',
  );

/** Names that would let a state write reach an object's prototype. */
const reservedKeys = new Set(['__proto__', 'constructor', 'prototype']);

const stateKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an identifier (letters, digits, _)')
  .refine((key) => !reservedKeys.has(key), 'is a reserved name');

const outputPath = z
  .string()
  .regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/, 'must be a dotted path of identifiers')
  .refine(
    (path) => path.split('.').every((part) => !reservedKeys.has(part)),
    'uses a reserved name',
  );

const jsonObject = storableObject();

export const retryPolicySchema = z.strictObject({
  max_attempts: z.number().int().min(1).max(20),
  backoff_ms: z.number().int().min(0).max(3_600_000).default(500),
});

export const moduleDefinitionSchema = z.strictObject({
  module_id: z.string().min(1).max(128),
  name: slug,
  description: z.string().max(2000).optional(),
  inputs: jsonObject.default({}),
  outputs_to_state: z.record(outputPath, stateKey).default({}),
  when: z.string().min(1).max(2000).optional(),
  retry: retryPolicySchema.optional(),
  /** Context shown beside an interactive module's question (rendered when it is asked). */
  display: displayDefinitionSchema.optional(),
  /** Secrets of the run's owner the module gets, by name (docs/secrets.md). */
  credentials: moduleCredentialsSchema.optional(),
  ...moduleDeadlineFields,
});

export const stepDefinitionSchema = z.strictObject({
  step_id: slug,
  name: z.string().max(200).optional(),
  description: z.string().max(2000).optional(),
  modules: z.array(moduleDefinitionSchema).min(1),
});

export const workflowDefinitionSchema = z
  .strictObject({
    workflow_id: slug,
    name: z.string().max(200).optional(),
    description: z.string().max(5000).optional(),
    initial_state: jsonObject.default({}),
    config: jsonObject.default({}),
    steps: z.array(stepDefinitionSchema).min(1),
  })
  .meta({ id: 'Workflow', description: 'A workflow document (workflow-format.md)' });

export type WorkflowDefinition = z.infer<typeof workflowDefinitionSchema>;
export type StepDefinition = z.infer<typeof stepDefinitionSchema>;
export type ModuleDefinition = z.infer<typeof moduleDefinitionSchema>;

/** True for a string that Liquid will render (its value is known only when the run gets there). */
export function isTemplateString(value: unknown): value is string {
  return typeof value === 'string' && /\{\{|\{%/.test(value);
}

function containsTemplate(value: unknown): boolean {
  if (isTemplateString(value)) return true;
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (typeof value === 'object' && value !== null)
    return Object.values(value).some(containsTemplate);
  return false;
}

/**
 * Checks a module's inputs as far as they are known before the run: every input the module does
 * not declare is an error, a required input must be present, and an input without a template is
 * checked against its declared schema. Templated inputs are checked when they are rendered.
 */
function staticInputErrors(
  inputs: Record<string, unknown>,
  declared: z.ZodObject,
  path: readonly PropertyKey[],
): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  const shape = declared.shape as Record<string, z.ZodType>;
  for (const key of Object.keys(inputs)) {
    if (!(key in shape)) {
      errors.push({ path: formatIssuePath([...path, key]), message: `unknown input '${key}'` });
    }
  }
  for (const [key, schema] of Object.entries(shape)) {
    const value = inputs[key];
    if (value === undefined) {
      if (!schema.safeParse(undefined).success) {
        errors.push({
          path: formatIssuePath([...path, key]),
          message: 'required input is missing',
        });
      }
      continue;
    }
    if (containsTemplate(value)) continue;
    const result = schema.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) {
        errors.push({
          path: formatIssuePath([...path, key, ...issue.path]),
          message: issue.message,
        });
      }
    }
  }
  return errors;
}

/**
 * A deadline belongs to a question: only interactive modules may have one, each field needs the
 * ones it depends on, and a `default_response` must be an answer the module could be given (it is
 * checked again against the rendered question when it fires).
 */
function deadlineErrors(
  module: ModuleDefinition,
  interactive: boolean,
  path: readonly PropertyKey[],
): ErrorDetail[] {
  const at = (field: string) => formatIssuePath([...path, field]);
  const errors: ErrorDetail[] = [];
  const present = (['timeout', 'on_timeout', 'default_response', 'remind_every'] as const).filter(
    (field) => module[field] !== undefined,
  );
  if (present.length === 0) return errors;
  if (!interactive) {
    for (const field of present)
      errors.push({
        path: at(field),
        message: `module '${module.module_id}' asks nobody anything, so it cannot have a deadline`,
      });
    return errors;
  }
  if (module.timeout === undefined)
    for (const field of present)
      errors.push({
        path: at(field),
        message: `${field} needs timeout (how long the question may wait)`,
      });
  const onTimeout = module.on_timeout ?? 'fail';
  if (onTimeout === 'default' && module.default_response === undefined)
    errors.push({
      path: at('default_response'),
      message:
        'on_timeout "default" needs default_response (the answer given in the person’s place)',
    });
  if (onTimeout !== 'default' && module.default_response !== undefined)
    errors.push({
      path: at('default_response'),
      message: 'default_response is only used with on_timeout "default"',
    });
  if (onTimeout !== 'remind' && module.remind_every !== undefined)
    errors.push({
      path: at('remind_every'),
      message: 'remind_every is only used with on_timeout "remind"',
    });
  if (onTimeout === 'default' && module.default_response !== undefined) {
    const answerSchema: z.ZodType =
      module.module_id in interactionAnswerSchemas
        ? interactionAnswerSchemas[module.module_id as keyof typeof interactionAnswerSchemas]
        : pluginAnswerSchema;
    const checked = answerSchema.safeParse(module.default_response);
    if (!checked.success)
      for (const issue of checked.error.issues)
        errors.push({
          path: formatIssuePath([...path, 'default_response', ...issue.path]),
          message: `not an answer ${module.module_id} takes: ${issue.message}`,
        });
  }
  return errors;
}

export type WorkflowValidation =
  { ok: true; workflow: WorkflowDefinition } | { ok: false; errors: ErrorDetail[] };

/** Validates a resolved workflow document against the shape and the module catalog; every error has its path. */
export function validateWorkflow(document: unknown, catalog: ModuleCatalog): WorkflowValidation {
  const parsed = workflowDefinitionSchema.safeParse(document);
  if (!parsed.success) {
    return { ok: false, errors: detailsFromZodError(parsed.error) };
  }
  const workflow = parsed.data;
  const errors: ErrorDetail[] = [];
  const stepIds = new Map<string, number>();
  workflow.steps.forEach((step, stepIndex) => {
    const earlier = stepIds.get(step.step_id);
    if (earlier !== undefined) {
      errors.push({
        path: `steps[${stepIndex}].step_id`,
        message: `duplicate step_id '${step.step_id}' (also steps[${earlier}])`,
      });
    } else stepIds.set(step.step_id, stepIndex);
    const moduleNames = new Map<string, number>();
    step.modules.forEach((module, moduleIndex) => {
      const path = ['steps', stepIndex, 'modules', moduleIndex] as const;
      const earlierModule = moduleNames.get(module.name);
      if (earlierModule !== undefined) {
        errors.push({
          path: formatIssuePath([...path, 'name']),
          message: `duplicate module name '${module.name}' in step '${step.step_id}' (also modules[${earlierModule}])`,
        });
      } else moduleNames.set(module.name, moduleIndex);
      const declaration = catalog.get(module.module_id);
      if (!declaration) {
        errors.push({
          path: formatIssuePath([...path, 'module_id']),
          message: `unknown module_id '${module.module_id}'`,
        });
        return;
      }
      if (module.display !== undefined && !declaration.interactive) {
        // Nobody is asked anything, so nobody would see it: a mistake worth saying.
        errors.push({
          path: formatIssuePath([...path, 'display']),
          message: `module '${module.module_id}' asks nobody anything, so it cannot have display`,
        });
      }
      errors.push(...deadlineErrors(module, declaration.interactive, path));
      errors.push(
        ...credentialErrors(module.credentials, declaration.credentials, {
          stepId: step.step_id,
          moduleId: module.module_id,
          path,
        }),
      );
      errors.push(...staticInputErrors(module.inputs, declaration.inputs, [...path, 'inputs']));
    });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, workflow };
}
