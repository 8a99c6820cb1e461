/**
 * Each command declares its options once (name, type, range, default, help) in a table; this
 * module turns the table into a commander command, which parses argv, checks every value before
 * any work starts and prints --help. Precedence: flag > documented environment variable > default.
 * Only options with an `env` entry read the environment, and their help names the variable.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

export type OptType = 'string' | 'number' | 'integer' | 'boolean' | 'list';

export interface OptSpec {
  type: OptType;
  help: string;
  default?: string | number | boolean | string[];
  alias?: string;
  /** Allowed values for strings. */
  choices?: readonly string[];
  /** Value placeholder in help. */
  value?: string;
  /** Inclusive bounds of a number or integer. */
  min?: number;
  max?: number;
  /** Exclusive bounds of a number. */
  above?: number;
  below?: number;
  /** 'integer' lists (e.g. filters): every element an integer of at least this. */
  itemMin?: number;
  /** The one environment variable this option reads when the flag is absent. */
  env?: string;
  /** Extra check of a string value; throws an Error whose message says what is wrong. */
  validate?: (raw: string) => void;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  /** Positional arguments: name and help. */
  positionals: { name: string; help: string; required?: boolean; variadic?: boolean }[];
  options: Record<string, OptSpec>;
  examples?: string[];
}

/** A wrong command line: exit code 2, and the message names the option and the fix. */
export class UsageError extends Error {}

export type Parsed = { _: string[] } & Record<string, string | number | boolean | string[] | undefined>;

/** "between 1 and 512", "at least 1", "above 0": the range as help and errors both say it. */
export function rangeText(o: OptSpec): string | undefined {
  const lo = o.min !== undefined ? `${o.min}` : o.above !== undefined ? `${o.above} (exclusive)` : undefined;
  const hi = o.max !== undefined ? `${o.max}` : o.below !== undefined ? `${o.below} (exclusive)` : undefined;
  if (lo && hi) return `from ${lo} to ${hi}`;
  if (lo) return o.min !== undefined ? `of at least ${o.min}` : `above ${o.above}`;
  if (hi) return o.max !== undefined ? `of at most ${o.max}` : `below ${o.below}`;
  return undefined;
}

function inRange(o: OptSpec, n: number): boolean {
  return !((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max) ||
    (o.above !== undefined && n <= o.above) || (o.below !== undefined && n >= o.below));
}

/** Parses and checks one value; the error message is what follows "--flag: ". */
export function parseValue(o: OptSpec, raw: string): string | number | string[] {
  if (o.type === 'number' || o.type === 'integer') {
    const n = raw.trim() === '' ? NaN : Number(raw);
    const kind = o.type === 'integer' ? 'an integer' : 'a number';
    if (!Number.isFinite(n) || (o.type === 'integer' && !Number.isInteger(n))) {
      throw new Error(`expects ${kind}${rangeText(o) ? ` ${rangeText(o)}` : ''}, got '${raw}'`);
    }
    if (!inRange(o, n)) throw new Error(`must be ${kind} ${rangeText(o)}, got ${raw}`);
    return n;
  }
  if (o.type === 'list') {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    if (o.itemMin !== undefined) {
      const bad = items.find((s) => !/^\d+$/.test(s) || Number(s) < o.itemMin!);
      if (bad !== undefined) throw new Error(`expects integers of at least ${o.itemMin}, separated by commas; got '${bad}'`);
    }
    if (o.choices) {
      const bad = items.find((s) => !o.choices!.includes(s));
      if (bad !== undefined) throw new Error(`'${bad}' is not one of ${o.choices.join(', ')}`);
    }
    return items;
  }
  if (o.choices && !o.choices.includes(raw)) throw new Error(`must be one of ${o.choices.join(', ')}; got '${raw}'`);
  o.validate?.(raw);
  return raw;
}

function helpOf(o: OptSpec): string {
  const range = o.type === 'number' || o.type === 'integer' ? rangeText(o) : undefined;
  if (!range || o.help.includes(range)) return o.help;
  const what = `${o.type === 'integer' ? 'an integer' : 'a number'} ${range}`;
  // before a trailing "(default: ...)" so that the two read as one sentence
  return o.help.replace(/( \(default[^)]*\))?$/, (d) => `: ${what}${d}`);
}

function toOption(key: string, o: OptSpec): Option {
  const flags = `${o.alias ? `-${o.alias}, ` : ''}--${key}${o.type === 'boolean' ? '' : ` <${o.value ?? o.type}>`}`;
  const opt = new Option(flags, helpOf(o));
  // choices first: they are shown in help, and the parser set below replaces commander's check
  if (o.choices && o.type === 'string') opt.choices(o.choices);
  if (o.type !== 'boolean') {
    opt.argParser((raw: string, previous: unknown) => {
      let v;
      try {
        v = parseValue(o, raw);
      } catch (e) {
        const m = (e as Error).message;
        throw new InvalidArgumentError(m.startsWith(`--${key}`) ? m : `--${key} ${m}`);
      }
      // a repeated list flag adds to the values given before it (never to the default)
      return o.type === 'list' && Array.isArray(previous) && previous !== o.default ? [...previous, ...(v as string[])] : v;
    });
  }
  if (o.choices && o.type === 'list') opt.description = `${helpOf(o)} [${o.choices.join(',')}]`;
  if (o.default !== undefined && o.default !== false) opt.default(o.default, Array.isArray(o.default) ? o.default.join(',') : undefined);
  if (o.env) opt.env(o.env);
  return opt;
}

/**
 * Commander says "option '-e, --epochs <n>' argument '1.5' is invalid. <our message>"; our message
 * names the flag already, so keep it alone (and say where an environment value came from).
 */
function usageMessage(s: string): string {
  const text = s.replace(/^error: /, '');
  const cut = text.indexOf(' is invalid. ');
  if (!text.startsWith('option ') || cut < 0) return text;
  const env = /value '.*' from env '(\w+)'$/.exec(text.slice(0, cut));
  return `${env ? `${env[1]}: ` : ''}${text.slice(cut + ' is invalid. '.length)}`;
}

function examplesText(spec: CommandSpec): string {
  return spec.examples?.length ? `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n` : '';
}

/** The commander command for a spec; help goes to `io.out`, usage errors to `io.err`. */
export function buildCommand(spec: CommandSpec, io: { out: (s: string) => void; err: (s: string) => void } = {
  out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s),
}): Command {
  const cmd = new Command(`vigil ${spec.name}`)
    .description(spec.summary)
    .usage(spec.usage.replace(/^vigil \S+\s*/, ''))
    .helpOption('-h, --help', 'Show this help')
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      outputError: (s, write) => write(`vigil ${spec.name}: ${usageMessage(s)}`),
    })
    .showHelpAfterError(`(see vigil ${spec.name} --help)`)
    .addHelpText('after', examplesText(spec));
  for (const p of spec.positionals) {
    const name = `${p.name}${p.variadic ? '...' : ''}`;
    cmd.argument(p.required ? `<${name}>` : `[${name}]`, p.help);
  }
  for (const [k, o] of Object.entries(spec.options)) cmd.addOption(toOption(k, o));
  return cmd;
}

/** The help of a command, as `--help` prints it. */
export function helpText(spec: CommandSpec): string {
  const cmd = buildCommand(spec);
  let text = '';
  cmd.configureOutput({ writeOut: (s) => { text += s; } });
  cmd.outputHelp();
  return text;
}

/**
 * Parses argv for a spec. Returns the values by option name, or the exit code when the line was
 * answered already (--help: 0) or wrong (usage error, printed: 2).
 */
export function parseArgs(spec: CommandSpec, argv: string[], io?: { out: (s: string) => void; err: (s: string) => void }): Parsed | number {
  const cmd = buildCommand(spec, io);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    throw e;
  }
  const values = cmd.opts();
  const out: Parsed = { _: [...cmd.args] };
  for (const opt of cmd.options as Option[]) {
    const key = opt.long!.slice(2);
    if (key === 'help') continue;
    const v = values[opt.attributeName()];
    if (v !== undefined) out[key] = v as Parsed[string];
  }
  return out;
}
