/**
 * A small argument parser: each command declares its options once (name, type, default, help),
 * and the same table parses argv and prints --help. Precedence: flag > VIGIL_<NAME> env > default.
 */

export type OptType = 'string' | 'number' | 'boolean' | 'list';

export interface OptSpec {
  type: OptType;
  help: string;
  default?: string | number | boolean | string[];
  alias?: string;
  /** Allowed values for strings. */
  choices?: readonly string[];
  /** Value placeholder in help. */
  value?: string;
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

export class UsageError extends Error {}

export type Parsed = { _: string[] } & Record<string, string | number | boolean | string[] | undefined>;

const envName = (k: string) => `VIGIL_${k.replace(/-/g, '_').toUpperCase()}`;

export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const out: Parsed = { _: [] };
  const byAlias = new Map(Object.entries(spec.options).filter(([, o]) => o.alias).map(([k, o]) => [o.alias!, k]));
  const set = (key: string, raw: string | undefined, flag: string) => {
    const o = spec.options[key];
    if (o.type === 'boolean') {
      out[key] = raw === undefined ? true : !/^(false|0|no)$/i.test(raw);
      return;
    }
    if (raw === undefined) throw new UsageError(`${flag} needs a value (${o.value ?? o.type})`);
    if (o.type === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got '${raw}'`);
      out[key] = n;
    } else if (o.type === 'list') {
      out[key] = [...((out[key] as string[] | undefined) ?? []), ...raw.split(',').map((s) => s.trim()).filter(Boolean)];
    } else {
      if (o.choices && !o.choices.includes(raw)) throw new UsageError(`${flag} must be one of ${o.choices.join(', ')}; got '${raw}'`);
      out[key] = raw;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out._.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--') || (a.startsWith('-') && a.length === 2 && isNaN(Number(a)))) {
      const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      let key = flag.startsWith('--') ? flag.slice(2) : byAlias.get(flag.slice(1));
      if (key?.startsWith('no-') && spec.options[key.slice(3)]?.type === 'boolean' && !spec.options[key]) {
        out[key.slice(3)] = false;
        continue;
      }
      if (!key || !spec.options[key]) {
        const near = Object.keys(spec.options).find((k) => k.startsWith((key ?? '').slice(0, 3)) && (key ?? '').length > 2);
        throw new UsageError(`unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}; see vigil ${spec.name} --help`);
      }
      const o = spec.options[key];
      let raw = inline;
      if (raw === undefined && o.type !== 'boolean') raw = argv[++i];
      set(key, raw, flag);
    } else {
      out._.push(a);
    }
  }
  for (const [k, o] of Object.entries(spec.options)) {
    if (out[k] !== undefined) continue;
    const env = process.env[envName(k)];
    if (env !== undefined && o.type !== 'boolean') set(k, env, envName(k));
    else if (env !== undefined) out[k] = !/^(false|0|no|)$/i.test(env);
    else if (o.default !== undefined) out[k] = o.default;
  }
  const required = spec.positionals.filter((p) => p.required);
  if (out._.length < required.length) {
    throw new UsageError(`missing ${required.slice(out._.length).map((p) => `<${p.name}>`).join(' ')}; usage: ${spec.usage}`);
  }
  if (!spec.positionals.some((p) => p.variadic) && out._.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument '${out._[spec.positionals.length]}'; usage: ${spec.usage}`);
  }
  return out;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`vigil ${spec.name}: ${spec.summary}`, '', `Usage: ${spec.usage}`, ''];
  if (spec.positionals.length) {
    lines.push('Arguments:');
    for (const p of spec.positionals) lines.push(`  ${`<${p.name}>`.padEnd(26)} ${p.help}`);
    lines.push('');
  }
  lines.push('Options:');
  for (const [k, o] of Object.entries(spec.options)) {
    const flag = `${o.alias ? `-${o.alias}, ` : ''}--${k}${o.type === 'boolean' ? '' : ` <${o.value ?? o.type}>`}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : o.default})` : '';
    const choices = o.choices ? ` [${o.choices.join('|')}]` : '';
    lines.push(`  ${flag.padEnd(26)} ${o.help}${choices}${def}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(26)} Show this help`);
  lines.push('', 'Every option can also be set with an environment variable VIGIL_<OPTION> (e.g. VIGIL_DEVICE=cuda).');
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}
