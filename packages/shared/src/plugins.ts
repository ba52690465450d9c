import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { moduleEffectsSchema, type ModuleDeclaration } from './workflow/module-declarations.js';
import type { StepwiseModule } from './workflow/module-api.js';

function isModuleShape(value: unknown): value is StepwiseModule {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  const inputs = candidate['inputs'] as { safeParse?: unknown; shape?: unknown } | undefined;
  const runs =
    candidate['interactive'] === true
      ? typeof candidate['request'] === 'function' && typeof candidate['respond'] === 'function'
      : candidate['interactive'] === false && typeof candidate['execute'] === 'function';
  return (
    typeof candidate['id'] === 'string' &&
    moduleEffectsSchema.safeParse(candidate['effects']).success &&
    /^[a-z0-9_-]+\.[a-z0-9_.-]+$/.test(candidate['id']) &&
    typeof inputs?.safeParse === 'function' &&
    typeof inputs.shape === 'object' &&
    runs
  );
}

/**
 * Loads the modules of the plugins named in RUNNER_PLUGINS (package names, or paths relative to
 * the working directory). A plugin that cannot be loaded, or that exports something else, stops
 * the service at start with a message naming it, rather than failing runs later.
 */
export async function loadPluginModules(specifiers: readonly string[]): Promise<StepwiseModule[]> {
  const modules: StepwiseModule[] = [];
  for (const specifier of specifiers) {
    const target =
      specifier.startsWith('.') || isAbsolute(specifier)
        ? pathToFileURL(resolve(specifier)).href
        : specifier;
    let exported: unknown;
    try {
      exported = ((await import(target)) as { default?: unknown }).default;
    } catch (error) {
      throw new Error(`plugin '${specifier}' could not be loaded: ${(error as Error).message}`);
    }
    const list = (exported as { modules?: unknown } | undefined)?.modules;
    if (!Array.isArray(list) || !list.every(isModuleShape)) {
      throw new Error(
        `plugin '${specifier}' must export default { modules: [...] } of valid modules (each with an id, inputs, effects 'none' or 'external', and execute or request/respond)`,
      );
    }
    modules.push(...list);
  }
  return modules;
}

export function declarationsOf(
  modules: readonly StepwiseModule[],
): Record<string, ModuleDeclaration> {
  return Object.fromEntries(modules.map((module) => [module.id, module]));
}
