/**
 * The `vigil` command. Each subcommand lives in its own file under commands/ (registered in
 * commands/index.ts) and is loaded only when used. Results go to stdout, progress and warnings
 * to stderr. Exit codes: 0 done, 1 the work failed (bad image folder, damaged model, ...),
 * 2 the command line is wrong (unknown option, value out of range, unusable --out).
 */
import { parseArgs, UsageError, type CommandSpec, type Parsed } from './args.js';
import { COMMANDS } from './commands/index.js';
import { VERSION } from '../version.js';

export interface Command {
  spec: CommandSpec;
  run(args: Parsed): Promise<number | void>;
}

/** The environment variables vigil reads; no other VIGIL_* variable has any effect. */
export const ENVIRONMENT: [string, string][] = [
  ['VIGIL_DEVICE', 'default of --device (cpu, cuda, cuda:N, auto)'],
  ['VIGIL_THREADS', 'default of --threads (CPU threads for libtorch)'],
  ['VIGIL_NATIVE', 'path of a built vigil_native.node to load instead of the packaged one'],
  ['VIGIL_MALLOC', "system: a training gives freed native memory back to the system (glibc's own way); by default it keeps it for reuse, which halves a CPU training step"],
  ['VIGIL_FASHION_MNIST_DIR', 'folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)'],
  ['VIGIL_DEBUG', 'set to print the stack trace of an error'],
];

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  return [
    `vigil ${VERSION}: unsupervised visual anomaly detection`,
    '',
    'Usage: vigil <command> [options]',
    '',
    'Commands:',
    ...names.map((c) => `  ${c.padEnd(10)} ${COMMANDS[c]!.summary}`),
    `  ${'help'.padEnd(10)} show the help of a command (vigil help train)`,
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
    '',
    'Environment:',
    ...ENVIRONMENT.map(([k, v]) => `  ${k.padEnd(24)} ${v}`),
    '  Building the addon reads LIBTORCH, LIBTORCH_INCLUDE, LIBTORCH_LIB, VIGIL_LIBTORCH_BYPASS_VERSION_CHECK, VIGIL_PREBUILT_ADDON.',
    '',
    'Run `vigil <command> --help` for the options of each. Exit codes: 0 done, 1 failed, 2 usage error.',
    '',
  ].join('\n');
}

function nearest(name: string): string | undefined {
  return Object.keys(COMMANDS).find((c) => c.startsWith(name.slice(0, 2)) || name.startsWith(c.slice(0, 3)));
}

/** Where runCommand writes help and usage errors (a command's results always go to process.stdout). */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}
const processIO: CommandIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function unknownCommand(name: string, io: CommandIO): number {
  const near = nearest(name);
  io.err(`vigil: unknown command '${name}'${near ? ` (did you mean ${near}?)` : ''}; see vigil --help\n`);
  return 2;
}

/** Runs a command line (without `node vigil`) and returns the exit code; for tests too. */
export async function runCommand(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(mainHelp());
    return 2;
  }
  if (name === '--help' || name === '-h') {
    io.out(mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-v' || name === '-V') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  if (name === 'help') {
    if (rest.length === 0) {
      io.out(mainHelp());
      return 0;
    }
    const entry = COMMANDS[rest[0]!];
    if (!entry) return unknownCommand(rest[0]!, io);
    return parseArgs((await entry.load()).spec, ['--help'], io) as number;
  }
  if (name.startsWith('-')) {
    io.err(`vigil: unknown option ${name}; options come after the command (vigil <command> ${name}); see vigil --help\n`);
    return 2;
  }
  const entry = COMMANDS[name];
  if (!entry) return unknownCommand(name, io);
  const cmd = await entry.load();
  try {
    const args = parseArgs(cmd.spec, rest, io);
    if (typeof args === 'number') return args;
    return (await cmd.run(args)) ?? 0;
  } catch (e) {
    const { clearProgressLine } = await import('../train/progress.js');
    clearProgressLine();
    if (e instanceof UsageError) {
      io.err(`vigil ${name}: ${e.message}\n(see vigil ${name} --help)\n`);
      return 2;
    }
    io.err(`vigil ${name}: error: ${(e as Error).message}\n`);
    if (process.env.VIGIL_DEBUG) io.err(`${(e as Error).stack}\n`);
    return 1;
  }
}
