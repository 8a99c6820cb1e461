/**
 * Command-line flags of the bench scripts (`--name value`, `--flag`): the benches are scripts with
 * a handful of options each, so they read process.argv directly instead of the CLI's parser.
 */

/** The value after `--name`, or `def` when the flag is absent or has no value (the next word is another flag). */
export function arg(name: string, def: string): string;
export function arg(name: string, def?: string): string | undefined;
export function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined && !process.argv[i + 1]!.startsWith('--') ? process.argv[i + 1]! : def;
}

/** Whether `--name` was given. */
export const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** A comma-separated list, trimmed, without empty entries. */
export const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

/** A list of integers and ranges: `0-9`, `0,4,8`, `0-2,7`. */
export function range(s: string): number[] {
  return list(s).flatMap((p) => {
    const m = /^(\d+)-(\d+)$/.exec(p);
    return m ? Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i) : [Number(p)];
  });
}
