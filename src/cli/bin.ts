#!/usr/bin/env node
import { runCommand } from './main.js';

// A reader that stops early (`vigil score ... | head -1`) closes the pipe: that ends the output
// the reader asked for, not an error, so exit quietly with 0.
process.stdout.on('error', (e: Error & { code?: string }) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

runCommand(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`vigil: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; },
);
