#!/usr/bin/env node
import { Command } from 'commander';
import { CliError } from './api-client.js';
import { downloadArtifact, listArtifacts } from './artifacts.js';
import { answer, events, login, resume, run, status, submit } from './commands.js';

const program = new Command()
  .name('stepwise')
  .description('Submit workflows to a Stepwise server, run them, and answer what they ask.')
  .showHelpAfterError();

program
  .command('login')
  .description('check and store the server URL and your API key')
  .requiredOption('--server <url>', 'e.g. http://127.0.0.1:8080')
  .requiredOption('--key <api key>', 'sk_…')
  .action(login);
program
  .command('submit')
  .description('submit a workflow: a folder (zipped for you), a .zip or a .json')
  .argument('<path>')
  .option('--entry-point <file>', 'entry file inside the bundle')
  .action(submit);
program
  .command('run')
  .description("start a run of a template's newest version")
  .argument('<template>')
  .requiredOption('--project <name>', 'project name')
  .option('--state <key=value...>', 'initial state (values may be JSON)')
  .action(run);
program.command('status').description('show a run').argument('<run>').action(status);
program
  .command('events')
  .description("print a run's events")
  .argument('<run>')
  .option('-f, --follow', 'keep following new events')
  .action(events);
program
  .command('answer')
  .description('answer the questions a run is waiting on, in the terminal')
  .argument('<run>')
  .action(answer);
program
  .command('resume')
  .description('resume a run, optionally with a changed workflow (asks how, if it differs)')
  .argument('<run>')
  .argument('[path]')
  .action(resume);
const artifacts = program.command('artifacts').description("list and download a run's files");
artifacts
  .command('list')
  .description("list a run's artifacts: id, name, type, size, step.module, created")
  .argument('<run>')
  .action(listArtifacts);
artifacts
  .command('download')
  .description("save an artifact's bytes to a file and check them against its sha256")
  .argument('<artifact>')
  .option('-o, --out <path>', "where to save it (default: the artifact's name, here)")
  .option('-f, --force', 'overwrite the file if it exists')
  .action(downloadArtifact);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof CliError) {
    process.stderr.write(
      `error${error.code === 'CLI_ERROR' ? '' : ` ${error.code}`}: ${error.message}\n`,
    );
    process.exit(1);
  }
  // Ctrl-C inside a prompt.
  if ((error as { name?: string }).name === 'ExitPromptError') process.exit(130);
  throw error;
});
