/**
 * The `vigil` command. Each subcommand lives in its own file under commands/ and is loaded only
 * when used, so `vigil --help` does not start the engine. Results go to stdout, progress and
 * warnings to stderr; errors exit non-zero with a message that says what to fix.
 */
import { helpText, parseArgs, UsageError, type CommandSpec, type Parsed } from './args.js';
import { VERSION } from '../version.js';

export interface Command {
  spec: CommandSpec;
  run(args: Parsed): Promise<number | void>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  train: async () => (await import('./commands/train.js')).default,
  score: async () => (await import('./commands/score.js')).default,
  evaluate: async () => (await import('./commands/evaluate.js')).default,
  demo: async () => (await import('./commands/demo.js')).default,
  info: async () => (await import('./commands/info.js')).default,
  serve: async () => (await import('./commands/serve.js')).default,
};

const SUMMARIES: Record<string, string> = {
  train: 'train a detector on a folder of normal images',
  score: 'score images with a trained model (JSON or CSV, one row per image)',
  evaluate: 'measure a model on labelled images (AUROC, AP, F1, confusion matrix)',
  demo: 'train and evaluate on built-in data (Fashion-MNIST vs MNIST, one-class Fashion-MNIST)',
  info: 'show the engine (libtorch version, threads, CUDA) and a model folder',
  serve: 'serve models over HTTP: scoring API, metrics and a web page',
};

function mainHelp(): string {
  return [
    `vigil ${VERSION}: unsupervised visual anomaly detection`,
    '',
    'Usage: vigil <command> [options]',
    '',
    'Commands:',
    ...Object.keys(COMMANDS).map((c) => `  ${c.padEnd(10)} ${SUMMARIES[c]}`),
    '',
    'Run `vigil <command> --help` for the options of each.',
    '',
  ].join('\n');
}

/** Runs a command line (without `node vigil`) and returns the exit code; for tests too. */
export async function runCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`vigil: unknown command '${name}'\n\n${mainHelp()}`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText(cmd.spec));
    return 0;
  }
  try {
    const args = parseArgs(cmd.spec, rest);
    return (await cmd.run(args)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vigil ${name}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`vigil ${name}: error: ${(e as Error).message}\n`);
    if (process.env.VIGIL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
