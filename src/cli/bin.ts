#!/usr/bin/env node
import { runCommand } from './main.js';

runCommand(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`vigil: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; },
);
