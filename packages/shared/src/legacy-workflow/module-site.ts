import { unstorableKeyReason } from '../storable-keys.js';
import { isOutputPath, isStateKey } from './names.js';
import type { OriginalPath, UntranslatedReport } from './report.js';
import { convertJinjaTemplate, hasTemplateSyntax } from './templates.js';

/** A JSON object as the original's documents hold them. */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Stepwise module as the importer builds it (checked by workflowDefinitionSchema afterwards). */
export interface TranslatedModule {
  module_id: string;
  inputs: JsonObject;
  outputs_to_state: Record<string, string>;
  display?: { label: string; kind: 'json' | 'text'; value: string }[];
}

/**
 * One original module being translated: where it is, what its resolver_schema says, and helpers
 * that report by the original's paths.
 */
export class ModuleSite {
  /** Input fields the original rendered on the server (resolver_schema); null: it had none. */
  private readonly renderedFields: ReadonlySet<string> | null;

  constructor(
    readonly path: OriginalPath,
    readonly original: JsonObject,
    readonly inputs: JsonObject,
    readonly workflowConfig: JsonObject,
    private readonly report: UntranslatedReport,
  ) {
    const resolverSchema = inputs['resolver_schema'];
    const properties = isJsonObject(resolverSchema) ? resolverSchema['properties'] : undefined;
    this.renderedFields = isJsonObject(properties)
      ? new Set(
          Object.entries(properties)
            .filter(([, field]) => isJsonObject(field) && field['resolver'] !== undefined)
            .map(([name]) => name),
        )
      : null;
  }

  get moduleId(): string {
    return String(this.original['module_id']);
  }

  /** Reports a part of this module (a path relative to it) as untranslated. */
  untranslated(relative: OriginalPath, reason: string): void {
    this.report.add([...this.path, ...relative], reason, this.moduleId);
  }

  /** Input keys the original declared, without the resolver hint (Stepwise renders every input). */
  inputKeys(): string[] {
    return Object.keys(this.inputs).filter((key) => key !== 'resolver_schema');
  }

  /** Reports every input not in `handled` as having no equivalent in `target`. */
  reportOtherInputs(handled: readonly string[], target: string): void {
    for (const key of this.inputKeys())
      if (!handled.includes(key))
        this.untranslated(['inputs', key], `input '${key}' has no equivalent in ${target}`);
  }

  /**
   * An input's value with its Jinja templates converted to Liquid. A template Stepwise cannot say
   * the same way is reported at its own path and left as it was.
   */
  input(key: string): unknown {
    const value = this.inputs[key];
    if (
      this.renderedFields !== null &&
      !this.renderedFields.has(key) &&
      containsTemplateSyntax(value)
    )
      this.untranslated(
        ['inputs', key],
        'the original did not render this field (its resolver_schema does not mark it); Stepwise renders every input',
      );
    return this.convert(value, ['inputs', key]);
  }

  private convert(value: unknown, at: OriginalPath): unknown {
    if (typeof value === 'string') {
      const { text, problems } = convertJinjaTemplate(value);
      for (const problem of problems) this.untranslated(at, `Jinja template: ${problem}`);
      return text;
    }
    if (Array.isArray(value)) return value.map((item, index) => this.convert(item, [...at, index]));
    if (isJsonObject(value)) {
      const entries: [string, unknown][] = [];
      for (const [key, item] of Object.entries(value)) {
        const reason = unstorableKeyReason(key);
        if (reason !== null) this.untranslated([...at, key], `dropped: ${reason}`);
        else entries.push([key, this.convert(item, [...at, key])]);
      }
      return Object.fromEntries(entries);
    }
    return value;
  }

  /**
   * The original's outputs_to_state with output names renamed to the Stepwise module's
   * (`renames`: original output → Stepwise output path, or a reason it has none).
   */
  outputs(renames: Readonly<Record<string, string | { none: string }>>): Record<string, string> {
    const mapping = this.original['outputs_to_state'];
    const translated: Record<string, string> = {};
    if (!isJsonObject(mapping)) return translated;
    for (const [outputPath, stateKey] of Object.entries(mapping)) {
      const at: OriginalPath = ['outputs_to_state', outputPath];
      const [head = '', ...rest] = outputPath.split('.');
      const rename = renames[head];
      if (rename === undefined || typeof rename !== 'string') {
        this.untranslated(
          at,
          rename === undefined
            ? `output '${head}' has no equivalent in the Stepwise module`
            : rename.none,
        );
        continue;
      }
      const target = [rename, ...rest].join('.');
      if (typeof stateKey !== 'string' || !isStateKey(stateKey) || !isOutputPath(target)) {
        this.untranslated(at, `'${String(stateKey)}' is not a Stepwise state key (an identifier)`);
        continue;
      }
      translated[target] = stateKey;
    }
    return translated;
  }
}

function containsTemplateSyntax(value: unknown): boolean {
  if (typeof value === 'string') return hasTemplateSyntax(value);
  if (Array.isArray(value)) return value.some(containsTemplateSyntax);
  if (isJsonObject(value)) return Object.values(value).some(containsTemplateSyntax);
  return false;
}

/**
 * A module without an equivalent, kept by name for a migrated run (keepUntranslated): its
 * module_id and inputs as they were, minus what no Stepwise document may hold.
 */
export function keptAsIs(site: ModuleSite): TranslatedModule {
  const inputs: JsonObject = {};
  for (const key of site.inputKeys()) {
    if (unstorableKeyReason(key) === null) inputs[key] = stripUnstorable(site.inputs[key]);
  }
  const outputs: Record<string, string> = {};
  const mapping = site.original['outputs_to_state'];
  if (isJsonObject(mapping))
    for (const [path, key] of Object.entries(mapping))
      if (typeof key === 'string' && isOutputPath(path) && isStateKey(key)) outputs[path] = key;
  return { module_id: site.moduleId, inputs, outputs_to_state: outputs };
}

function stripUnstorable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUnstorable);
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => unstorableKeyReason(key) === null)
      .map(([key, item]) => [key, stripUnstorable(item)]),
  );
}
