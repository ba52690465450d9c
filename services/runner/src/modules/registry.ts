import type { StepwiseModule } from '@stepwise/shared';
import { transformSet, transformTemplate } from './transform.js';
import { userConfirm } from './user-confirm.js';
import { userForm } from './user-form.js';
import { userSelect } from './user-select.js';
import { userTextInput } from './user-text-input.js';

export const builtInModules: readonly StepwiseModule[] = [
  transformSet,
  transformTemplate,
  userSelect,
  userTextInput,
  userForm,
  userConfirm,
];

export type ModuleRegistry = ReadonlyMap<string, StepwiseModule>;

/** Built-ins first; a plugin may not replace one (its id would mean two things). */
export function createModuleRegistry(plugins: readonly StepwiseModule[] = []): ModuleRegistry {
  const registry = new Map<string, StepwiseModule>(
    builtInModules.map((module) => [module.id, module]),
  );
  for (const module of plugins) {
    if (registry.has(module.id)) throw new Error(`plugin module '${module.id}' is already defined`);
    registry.set(module.id, module);
  }
  return registry;
}
