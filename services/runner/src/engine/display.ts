import {
  idSchema,
  interactionRequestSchemas,
  MAX_DISPLAY_VALUE_LENGTH,
  pluginRequestSchema,
  type DisplayItem,
  type DisplayItemDefinition,
  type InteractionRequest,
} from '@stepwise/shared';
import { ModuleFailure } from './module-failure.js';
import { TemplateError, type TemplateEngine } from './templating.js';

/**
 * The context a person sees beside a question (people.md): a module's `display` items rendered
 * with the run's state when the question is asked, and attached to the module's request.
 */

const artifactId = idSchema('artifact');

/** JSON text parsed, or the text itself when it is not JSON (the author may show any text). */
function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Renders every item; a template error names the item (and fails the module as TEMPLATE_ERROR,
 * like an input's), a value that is too long or not an artifact id fails it as DISPLAY_INVALID.
 */
export async function renderDisplay(
  items: readonly DisplayItemDefinition[],
  templates: TemplateEngine,
  context: Record<string, unknown>,
): Promise<DisplayItem[]> {
  const rendered: DisplayItem[] = [];
  for (const [index, item] of items.entries()) {
    const where = `display[${index}] ("${item.label}")`;
    let value: unknown;
    try {
      // `json`: a lone `{{ state.x }}` keeps its native value; text is parsed when it is JSON.
      value =
        item.kind === 'json'
          ? await templates.renderValue(item.value, context)
          : await templates.renderText(item.value, context);
    } catch (error) {
      if (error instanceof TemplateError) throw new TemplateError(`${where}: ${error.message}`);
      throw error;
    }
    if (item.kind === 'json' && typeof value === 'string') value = parsedJson(value);
    const size = typeof value === 'string' ? value.length : (JSON.stringify(value)?.length ?? 0);
    if (size > MAX_DISPLAY_VALUE_LENGTH)
      throw new ModuleFailure(
        'DISPLAY_INVALID',
        `${where}: renders ${size} characters, more than ${MAX_DISPLAY_VALUE_LENGTH}`,
        false,
      );
    if (item.kind === 'json') {
      rendered.push({ label: item.label, kind: 'json', value });
      continue;
    }
    const text = String(value);
    if (item.kind === 'artifact' && !artifactId.safeParse(text.trim()).success)
      throw new ModuleFailure(
        'DISPLAY_INVALID',
        `${where}: renders '${text.slice(0, 80)}', which is not an artifact id (art_…)`,
        false,
      );
    rendered.push({
      label: item.label,
      kind: item.kind,
      value: item.kind === 'artifact' ? text.trim() : text,
    });
  }
  return rendered;
}

function isBuiltIn(moduleId: string): moduleId is keyof typeof interactionRequestSchemas {
  return Object.hasOwn(interactionRequestSchemas, moduleId);
}

/**
 * The request as it is logged: the module's own, with the rendered `display` when the workflow
 * declares one, checked against the module's named request schema (a plugin's must be a JSON
 * object), so that every logged request reads back as `interactionRequestSchema` says.
 */
export function completeRequest(
  moduleId: string,
  request: unknown,
  display: DisplayItem[] | null,
): InteractionRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw new ModuleFailure(
      'REQUEST_INVALID',
      `module '${moduleId}' returned a request that is not a JSON object`,
      false,
    );
  const full = display === null ? request : { ...request, display };
  const schema = isBuiltIn(moduleId) ? interactionRequestSchemas[moduleId] : pluginRequestSchema;
  const checked = schema.safeParse(full);
  if (!checked.success) {
    const problems = checked.error.issues
      .map((issue) => `${['request', ...issue.path].join('.')}: ${issue.message}`)
      .join('; ');
    throw new ModuleFailure(
      'REQUEST_INVALID',
      `module '${moduleId}' returned an invalid request: ${problems}`,
      false,
    );
  }
  // The checked copy, not the module's object: it holds exactly the documented fields.
  return checked.data;
}
