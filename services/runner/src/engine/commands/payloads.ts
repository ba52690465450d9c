import { runCommandSchema, type RunCommand, type RunCommandRecord } from '@stepwise/shared';
import type { CommandError } from '../decision.js';

/**
 * A stored command read as its typed variant. A payload that does not parse (written by an older
 * gateway, or damaged) is refused rather than guessed at.
 */
export function parseRunCommand(
  command: RunCommandRecord,
): { ok: true; command: RunCommand } | { ok: false; error: CommandError } {
  const parsed = runCommandSchema.safeParse({ type: command.type, payload: command.payload });
  if (parsed.success) return { ok: true, command: parsed.data };
  return {
    ok: false,
    error: {
      code: 'BAD_REQUEST',
      message: `the ${command.type} command's payload is not valid: ${parsed.error.issues
        .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
        .join('; ')}`,
    },
  };
}
