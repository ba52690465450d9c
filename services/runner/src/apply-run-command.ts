import { UnrecoverableError } from 'bullmq';
import type { RunCommand } from '@stepwise/shared';
import type { JobContext } from '@stepwise/shared/node';

/**
 * Applies one run command. The advance loop arrives with the runner issue; until then a command
 * is refused for good rather than retried.
 */
export async function applyRunCommand(command: RunCommand, context: JobContext): Promise<never> {
  context.logger.warn(
    { command_id: command.command_id, type: command.type },
    'runs not implemented yet',
  );
  throw new UnrecoverableError('applying run commands is not implemented yet');
}
