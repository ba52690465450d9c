#!/usr/bin/env node
import { Command, Option } from 'commander';
import { migrationPolicySchema, unfinishedRunStatusSchema } from '@stepwise/shared';
import { CliError } from './api-client.js';
import { downloadArtifact, listArtifacts, runArtifacts } from './artifacts.js';
import { answer, login, run, status, submit } from './commands.js';
import { events } from './events.js';
import { impact } from './impact.js';
import { importWorkflow } from './import-workflow.js';
import { migrate } from './migrations.js';
import { resume } from './resume.js';
import { branch, cancel, retry, runs } from './run-commands.js';

const program = new Command()
  .name('stepwise')
  .description('Submit workflows to a Stepwise server, run them, and answer what they ask.')
  .showHelpAfterError()
  // A command's options end at its subcommand's name, so `artifacts download ART --force` is the
  // subcommand's --force, not the `artifacts RUN --force` of its parent (both levels need this).
  .enablePositionalOptions();

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
  .command('import-workflow')
  .description(
    'import a workflow of the original system (its entry file, e.g. workflow_v3.json): resolve its ' +
      '$refs, translate it, list by path what has no equivalent, and submit what translates',
  )
  .argument('<entry-file>')
  .option('--dry-run', 'translate and report only; submit nothing')
  .option('--json', 'print the translation and the report as JSON')
  .option('--strict', 'exit 1 (and submit nothing) if anything did not translate')
  .action(importWorkflow);
program
  .command('run')
  .description("start a run of a template's newest version (exits 1 if the run fails)")
  .argument('<template>')
  .requiredOption('--project <name>', 'project name')
  .option('--state <key=value...>', 'initial state (values may be JSON)')
  .action(run);
program
  .command('runs')
  .description('list your runs: those waiting for input first, then the others, newest first')
  .option('--status <status>', 'only runs in this status (e.g. awaiting_input, error)')
  .option('--template <name>', 'only runs of this template')
  .option('--project <name>', 'only runs of this project')
  .option('--limit <n>', 'at most this many runs (1 to 100)', '20')
  .action(runs);
program.command('status').description('show a run').argument('<run>').action(status);
program
  .command('events')
  .description(
    "print a run's events (seq, id, type, step.module, who; answers, outputs, errors), then " +
      'follow it until it ends (exits 1 if it fails)',
  )
  .argument('<run>')
  .option('-f, --follow', 'follow new events (the default)')
  .option('--no-follow', 'print the events so far and exit')
  .action(events);
program
  .command('answer')
  .description('answer the questions a run is waiting on, in the terminal (exits 1 if it fails)')
  .argument('<run>')
  .action(answer);
program
  .command('branch')
  .description('fork a run at one of its events (a seq as `events` prints it, or an event id)')
  .argument('<run>')
  .argument('<seq or event id>')
  .option('--reuse-answers', "don't ask again questions asked exactly as they were answered before")
  .action(branch);
program
  .command('retry')
  .description('run a step (or one module of it) again, optionally with feedback')
  .argument('<run>')
  .argument('<step>')
  .option('--module <name>', 'the module of the step to start from')
  .option('--feedback <text>', 'what to do differently, kept beside the retried module')
  .option('--reuse-answers', "don't ask again questions asked exactly as they were answered before")
  .action(retry);
program.command('cancel').description('cancel a run').argument('<run>').action(cancel);
program
  .command('resume')
  .description(
    'resume a run, optionally with a changed workflow (shows the change and asks how, if it differs)',
  )
  .argument('<run>')
  .argument('[path]')
  .option(
    '--reuse-answers',
    "on a restart, don't ask again questions asked exactly as they were answered before",
  )
  .action(resume);
program
  .command('impact')
  .description(
    "which unfinished runs of a template another version touches, and how: each run's position, " +
      'the changes before/at/after it, and whether it continues as is or should restart',
  )
  .argument('<template>')
  .argument('<version>', 'the version the runs would move to (ver_…)')
  .addOption(
    new Option('--status <status>', 'only runs in this status').choices(
      unfinishedRunStatusSchema.options,
    ),
  )
  .option('--project <name>', 'only runs of this project')
  .option('--from-version <version>', 'only runs on this version')
  .option('--limit <n>', 'runs per page (1 to 100)', '20')
  .option('--all', 'every page, not only the first')
  .option('--json', "print the server's JSON")
  .action(impact);
program
  .command('migrate')
  .description(
    'move unfinished runs of a template onto a version by a policy, and follow it to the end ' +
      '(exits 1 if a run failed to move); --dry-run says what would happen',
  )
  .argument('<template>')
  .requiredOption('--to <version>', 'the version to move the runs to (ver_…)')
  .addOption(
    new Option('--policy <policy>', 'what to do with a run that has passed a change')
      .choices(migrationPolicySchema.options)
      .makeOptionMandatory(),
  )
  .addOption(
    new Option('--status <status>', 'only runs in this status').choices(
      unfinishedRunStatusSchema.options,
    ),
  )
  .option('--project <name>', 'only runs of this project')
  .option('--from-version <version>', 'only runs on this version')
  .option('--run <run...>', 'only these runs')
  .option('--dry-run', 'write nothing; say what would happen to each run')
  .option(
    '--reuse-answers',
    "restarted runs don't ask again questions asked exactly as they were answered before",
  )
  .option('--no-follow', 'print the migration id and exit, without waiting for it')
  .option('--json', "print the server's JSON")
  .action(migrate);
const artifacts = program
  .command('artifacts')
  .description("list a run's files, or save them all (--download); or use list/download")
  .argument('[run]')
  .option('--download [folder]', 'save every artifact of the run into a folder (default: here)')
  .option('--force', 'overwrite files that exist (with --download)')
  .enablePositionalOptions()
  .action(runArtifacts);
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
