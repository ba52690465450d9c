import { z } from 'zod';
import { formatIssuePath, type ErrorDetail } from '../errors.js';
import { SECRET_NAME_PATTERN } from '../secrets-api.js';

/**
 * A module's `credentials`: credential slot → the name of one of the run owner's secrets, e.g.
 * `{"api_key": "OPENAI_KEY"}`. Names only, literally: the runner resolves them from the owner's
 * secrets at call time and hands the values to the module alone, so a value never passes through
 * a template, the state or an event (docs/secrets.md).
 */
const slotPattern = /^[a-z][a-z0-9_]{0,63}$/;

export const moduleCredentialsSchema = z
  .record(
    z.string().regex(slotPattern, 'must be a credential slot (lower-case letters, digits, _)'),
    z.string().max(200),
  )
  .describe('Credential slot → the name of one of your secrets (never a template)');
export type ModuleCredentials = z.infer<typeof moduleCredentialsSchema>;

/**
 * What is wrong with a module's `credentials` against the slots its module declares: an unknown
 * slot, a template or expression where a name belongs, a name that is not a secret's.
 */
export function credentialErrors(
  credentials: ModuleCredentials | undefined,
  declared: readonly string[] | undefined,
  where: { stepId: string; moduleId: string; path: readonly PropertyKey[] },
): ErrorDetail[] {
  if (credentials === undefined) return [];
  const errors: ErrorDetail[] = [];
  const slots = declared ?? [];
  for (const [slot, name] of Object.entries(credentials)) {
    const path = formatIssuePath([...where.path, 'credentials', slot]);
    if (!slots.includes(slot)) {
      errors.push({
        path,
        message:
          slots.length === 0
            ? `module '${where.moduleId}' takes no credentials`
            : `module '${where.moduleId}' has no credential '${slot}' (it takes ${slots.join(', ')})`,
      });
      continue;
    }
    if (/\{\{|\{%|\}\}|%\}/.test(name)) {
      errors.push({
        path,
        message: `step '${where.stepId}' names its credential '${slot}' with a template; credentials take a secret's name literally (e.g. OPENAI_KEY), never a template or expression`,
      });
      continue;
    }
    if (!SECRET_NAME_PATTERN.test(name))
      errors.push({
        path,
        message: `step '${where.stepId}': '${name}' is not a secret name (1-64 upper-case letters, digits or _, starting with a letter)`,
      });
  }
  return errors;
}
