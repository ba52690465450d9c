// Types for the stub LLM's JSON generator (plain JavaScript).

/** A value valid against `schema`, the same for the same (schema, seed, prompt). */
export function sampleFromSchema(
  schema: unknown,
  options?: { seed?: string; prompt?: string },
): unknown;

/** The words of a text worth repeating back. */
export function wordsOf(text: string, limit?: number): string[];

/** A 32-bit unsigned number from the sha256 of the parts. */
export function hash32(...parts: string[]): number;
