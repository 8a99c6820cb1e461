/**
 * The web pages' assets (src/server/public, shipped in the package): each page is one HTML
 * document with its style and script inlined, so a page opened with ?token= needs no second
 * authenticated request, and a Content-Security-Policy of their hashes allows nothing else.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The public folder, from src/server (ts-node) or dist/src/server (compiled). */
export function publicDir(): string {
  for (const rel of ['./public', '../../../src/server/public']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/index.html`)) return dir;
  }
  throw new Error('vigil: the web page assets (src/server/public) are missing from this installation');
}

export interface Page {
  html: string;
  csp: string;
}

const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

/** `name`.html with `{{style}}` and `{{script}}` replaced by the given asset files. */
export function inlinePage(name: string, style: string, script: string): Page {
  const dir = publicDir();
  const css = readFileSync(`${dir}/${style}`, 'utf8');
  const js = readFileSync(`${dir}/${script}`, 'utf8');
  const html = readFileSync(`${dir}/${name}`, 'utf8').replace('{{style}}', () => css).replace('{{script}}', () => js);
  const csp = [
    "default-src 'none'", `script-src ${sha(js)}`, `style-src ${sha(css)}`, "img-src 'self' data: blob:",
    "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
