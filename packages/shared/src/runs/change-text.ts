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
 * Diffing cost grows with the text's length times the number of edits: past this many changed
 * lines the text counts as rewritten, and a text longer than `maxDiffedCharacters` is not diffed
 * at all, so no request spends long diffing (a hostile upload included).
 */
const maxEditedLines = 1_000;
const maxDiffedCharacters = 200_000;
/** The most one diff may take; past it the text is summarised as rewritten. */
const maxDiffMs = 200;

/**
 * What one answer may spend on change text, across all its modules: characters read and written,
 * and time. Past it, the remaining changes are named without their text.
 */
export class ChangeTextBudget {
  private characters: number;
  private readonly deadline: number;

  constructor(characters = 2_000_000, milliseconds = 1_000) {
    this.characters = characters;
    this.deadline = Date.now() + milliseconds;
  }

  get spent(): boolean {
    return this.characters <= 0 || Date.now() > this.deadline;
  }

  get msLeft(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  charge(characters: number): void {
    this.characters -= characters;
  }
}

function lineCount(text: string | undefined): number {
  return text === undefined ? 0 : text.split('\n').length - 1;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as the text to diff: a string as it is, anything else as pretty JSON. */
function asText(value: unknown): string {
  if (typeof value === 'string') return value.endsWith('\n') ? value : `${value}\n`;
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}

/**
 * Two different values whose texts read the same (`"1"` and `1`, or a final newline more) are
 * shown as JSON, where the quotes and the `\n` tell them apart.
 */
function textsOf(before: unknown, after: unknown): [string | undefined, string | undefined] {
  const texts: [string | undefined, string | undefined] = [
    before === undefined ? undefined : asText(before),
    after === undefined ? undefined : asText(after),
  ];
  if (texts[0] !== texts[1]) return texts;
  return [`${canonicalJson(before)}\n`, `${canonicalJson(after)}\n`];
}

/** Every leaf under `value`, by its path (`prompt`, `messages[1].content`). */
function leaves(value: unknown, path: string, into: Map<string, unknown>): void {
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((item, index) => leaves(item, `${path}[${index}]`, into));
  } else if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, item] of Object.entries(value)) leaves(item, `${path}.${key}`, into);
  } else if (value !== undefined) {
    into.set(path, value);
  }
}

function header(field: string): string {
  return `--- ${field} (current version)\n+++ ${field} (submitted version)\n`;
}

function unifiedDiff(
  field: string,
  before: string | undefined,
  after: string | undefined,
  budget: ChangeTextBudget,
): string {
  if (budget.spent)
    return `${header(field)}… not shown: this answer's change text reached its limit\n`;
  const size = (before?.length ?? 0) + (after?.length ?? 0);
  budget.charge(size);
  if (size > maxDiffedCharacters) {
    return `${header(field)}… too long to diff line by line (${before?.length ?? 0} characters before, ${after?.length ?? 0} after)\n`;
  }
  const patch = createTwoFilesPatch(
    before === undefined ? '/dev/null' : `${field} (current version)`,
    after === undefined ? '/dev/null' : `${field} (submitted version)`,
    before ?? '',
    after ?? '',
    undefined,
    undefined,
    { context: 3, maxEditLength: maxEditedLines, timeout: Math.min(maxDiffMs, budget.msLeft) },
  );
  if (patch === undefined) {
    return `${header(field)}… rewritten: more than ${maxEditedLines} lines differ (${lineCount(before)} lines before, ${lineCount(after)} after); not shown line by line\n`;
  }
  // The library opens with a line of '=' that no unified-diff reader needs.
  const text = patch.replace(/^=+\n/, '');
  const shown =
    text.length <= maxDiffCharacters
      ? text
      : `${text.slice(0, maxDiffCharacters)}\n… (the diff goes on: ${text.length - maxDiffCharacters} more characters)\n`;
  budget.charge(shown.length);
  return shown;
}

function fieldValues(field: TextField, value: unknown): Map<string, unknown> {
  const values = new Map<string, unknown>();
  if (field === 'inputs' || field === 'display') leaves(value, field, values);
  else if (value !== undefined) values.set(field, value);
  return values;
}

/**
 * The text changes between a module as the run's version has it and as the submitted one does
 * (`undefined` for a module that one of them lacks: all its text then shows as removed or added).
 */
export function moduleTextChanges(
  before: Partial<Record<TextField, unknown>> | undefined,
  after: Partial<Record<TextField, unknown>> | undefined,
  budget = new ChangeTextBudget(),
): TextChange[] {
  const changes: TextChange[] = [];
  for (const field of textFields) {
    const old = fieldValues(field, before?.[field]);
    const submitted = fieldValues(field, after?.[field]);
    const paths = [...new Set([...old.keys(), ...submitted.keys()])];
    for (const path of paths) {
      const oldValue = old.get(path);
      const newValue = submitted.get(path);
      if (
        oldValue === newValue ||
        (oldValue !== undefined &&
          newValue !== undefined &&
          canonicalJson(oldValue) === canonicalJson(newValue))
      )
        continue;
      if (changes.length === maxChangesPerModule) {
        changes.push({
          field: '…',
          diff: `more than ${maxChangesPerModule} pieces of text differ; the rest are not shown\n`,
        });
        return changes;
      }
      const [oldText, newText] = textsOf(oldValue, newValue);
      changes.push({ field: path, diff: unifiedDiff(path, oldText, newText, budget) });
    }
  }
  return changes;
}
