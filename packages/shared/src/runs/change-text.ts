import { createTwoFilesPatch } from 'diff';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json.js';

/**
 * The changed text itself (versions.md, "The diff shows the change itself"): for one module, a
 * unified diff per changed piece of text. Inputs are walked down to their leaves, so a prompt
 * nested in `messages[1].content` is diffed line by line as the text it is, not as one escaped
 * JSON line; other values are compared as pretty-printed JSON.
 */
export const textChangeSchema = z.object({
  /** Where the text sits in the module: `inputs.prompt`, `inputs.messages[1].content`, `when`… */
  field: z.string(),
  /** A unified diff (`--- `, `+++ `, `@@` hunks; lines prefixed ` `, `-`, `+`). */
  diff: z.string(),
});
export type TextChange = z.infer<typeof textChangeSchema>;

/** A module's parts whose text is compared; `inputs` and `display` are walked to their leaves. */
const textFields = ['module_id', 'inputs', 'outputs_to_state', 'when', 'retry', 'display'] as const;
type TextField = (typeof textFields)[number];

/** Beyond these, a change is summarised rather than shown: answers stay readable and bounded. */
const maxDiffCharacters = 20_000;
const maxChangesPerModule = 50;
/**
 * Diffing cost grows with the number of edits: past this many changed lines the text counts as
 * rewritten and is summarised, so a request never spends long diffing (a hostile upload included).
 */
const maxEditedLines = 1_000;

function lineCount(text: string | undefined): number {
  return text === undefined ? 0 : text.split('\n').length - 1;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value.endsWith('\n') ? value : `${value}\n`;
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}

/** Every leaf under `value`, by its path (`prompt`, `messages[1].content`), as text. */
function leaves(value: unknown, path: string, into: Map<string, string>): void {
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((item, index) => leaves(item, `${path}[${index}]`, into));
  } else if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, item] of Object.entries(value)) leaves(item, `${path}.${key}`, into);
  } else if (value !== undefined) {
    into.set(path, asText(value));
  }
}

function unifiedDiff(field: string, before: string | undefined, after: string | undefined): string {
  const patch = createTwoFilesPatch(
    before === undefined ? '/dev/null' : `${field} (current version)`,
    after === undefined ? '/dev/null' : `${field} (submitted version)`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    { context: 3, maxEditLength: maxEditedLines },
  );
  if (patch === undefined) {
    return `--- ${field} (current version)\n+++ ${field} (submitted version)\n… rewritten: more than ${maxEditedLines} lines differ (${lineCount(before)} lines before, ${lineCount(after)} after); not shown line by line\n`;
  }
  // The library opens with a line of '=' that no unified-diff reader needs.
  const text = patch.replace(/^=+\n/, '');
  return text.length <= maxDiffCharacters
    ? text
    : `${text.slice(0, maxDiffCharacters)}\n… (the diff goes on: ${text.length - maxDiffCharacters} more characters)\n`;
}

function fieldTexts(field: TextField, value: unknown): Map<string, string> {
  const texts = new Map<string, string>();
  if (field === 'inputs' || field === 'display') leaves(value, field, texts);
  else if (value !== undefined) texts.set(field, asText(value));
  return texts;
}

/**
 * The text changes between a module as the run's version has it and as the submitted one does
 * (`undefined` for a module that one of them lacks: all its text then shows as removed or added).
 */
export function moduleTextChanges(
  before: Partial<Record<TextField, unknown>> | undefined,
  after: Partial<Record<TextField, unknown>> | undefined,
): TextChange[] {
  const changes: TextChange[] = [];
  for (const field of textFields) {
    const old = fieldTexts(field, before?.[field]);
    const submitted = fieldTexts(field, after?.[field]);
    const paths = [...new Set([...old.keys(), ...submitted.keys()])];
    for (const path of paths) {
      const oldText = old.get(path);
      const newText = submitted.get(path);
      if (oldText === newText) continue;
      if (changes.length === maxChangesPerModule) {
        changes.push({
          field: '…',
          diff: `more than ${maxChangesPerModule} pieces of text differ; the rest are not shown\n`,
        });
        return changes;
      }
      changes.push({ field: path, diff: unifiedDiff(path, oldText, newText) });
    }
  }
  return changes;
}
