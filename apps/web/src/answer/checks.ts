/** The checks the runner makes of a text (user-text-input.ts, user-form.ts), made as one types. */
export interface TextRules {
  min_length?: number | null | undefined;
  max_length?: number | null | undefined;
  pattern?: string | null | undefined;
}

/** Anchored and with the `u` flag, exactly as the runner compiles it; null if it does not compile. */
function compile(pattern: string): RegExp | null {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    return null;
  }
}

/** Characters as the runner counts them: code points, not UTF-16 units. */
export function lengthOf(text: string): number {
  return [...text].length;
}

export function textProblems(text: string, rules: TextRules): string[] {
  const problems: string[] = [];
  const length = lengthOf(text);
  if (rules.min_length != null && length < rules.min_length)
    problems.push(`At least ${rules.min_length} characters (${rules.min_length - length} more).`);
  if (rules.max_length != null && length > rules.max_length)
    problems.push(
      `At most ${rules.max_length} characters (${length - rules.max_length} too many).`,
    );
  if (rules.pattern != null && rules.pattern !== '') {
    const regex = compile(rules.pattern);
    if (regex && !regex.test(text)) problems.push(`Must match the pattern ${rules.pattern}`);
  }
  return problems;
}

/** A line saying what is allowed ("10 to 80 characters"), or null when anything goes. */
export function rulesHelp(rules: TextRules, length: number): string | null {
  const { min_length: min, max_length: max } = rules;
  const count = `${length} character${length === 1 ? '' : 's'}`;
  if (min != null && max != null) return `${min} to ${max} characters; ${count} so far.`;
  if (max != null) return `Up to ${max} characters; ${count} so far.`;
  if (min != null) return `At least ${min} characters; ${count} so far.`;
  return null;
}
