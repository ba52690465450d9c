import type { Connection } from 'mongoose';
import type { StepwiseModule } from '@stepwise/shared';
import type { Models } from '@stepwise/shared/node';
import { ArtifactStore } from '../artifacts/artifact-store.js';
import { KeywordHistoryStore } from '../history/keyword-history.js';
import { OptionUsageStore } from '../history/option-usage.js';
import { createApiFetch, type FetchSettings } from './api-fetch.js';
import { createApiJob } from './api-job.js';
import { createApiLlm, type LlmSettings } from './api-llm.js';
import { userPriceReader } from './llm/user-prices.js';
import type { TokenLedger } from '../history/token-ledger.js';
import { createArtifactSave } from './artifact-save.js';
import { createHistoryKeywords } from './history-keywords.js';
import { transformSet, transformTemplate } from './transform.js';
import { userConfirm } from './user-confirm.js';
import { userForm } from './user-form.js';
import { createUserSelect } from './user-select.js';
import { userTextInput } from './user-text-input.js';
import { createUserFileInput } from './user-file-input.js';

export interface BuiltInSettings {
  mongo: Connection;
  models: Models;
  fetch: FetchSettings;
  llm: LlmSettings;
  tokens: TokenLedger;
  maxArtifactBytes: number;
}

/** The catalog's modules, wired to the stores and policies they need. */
export function createBuiltInModules(settings: BuiltInSettings): StepwiseModule[] {
  const artifacts = new ArtifactStore(settings.mongo, settings.models);
  return [
    transformSet,
    transformTemplate,
    createUserSelect(new OptionUsageStore(settings.models)),
    userTextInput,
    userForm,
    userConfirm,
    createUserFileInput(settings.models),
    createHistoryKeywords(new KeywordHistoryStore(settings.models)),
    createApiFetch(settings.fetch),
    createApiLlm(settings.llm, settings.tokens, {
      outboundPolicy: settings.fetch.policy,
      userPrice: userPriceReader(settings.models),
    }),
    createApiJob({
      policy: settings.fetch.policy,
      maxResponseBytes: settings.fetch.maxResponseBytes,
      maxResultBytes: settings.maxArtifactBytes,
      defaultTimeoutMs: settings.fetch.defaultTimeoutMs,
      artifacts,
    }),
    createArtifactSave(artifacts, settings.maxArtifactBytes),
  ];
}

export type ModuleRegistry = ReadonlyMap<string, StepwiseModule>;

/** Built-ins first; a plugin may not replace one (its id would mean two things). */
export function createModuleRegistry(
  builtIns: readonly StepwiseModule[],
  plugins: readonly StepwiseModule[] = [],
): ModuleRegistry {
  const registry = new Map<string, StepwiseModule>(builtIns.map((module) => [module.id, module]));
  for (const module of plugins) {
    if (registry.has(module.id)) throw new Error(`plugin module '${module.id}' is already defined`);
    registry.set(module.id, module);
  }
  return registry;
}
