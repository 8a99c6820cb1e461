/** Progress on stderr: a live bar on a terminal, one line per epoch otherwise (logs, CI). */

export interface ProgressReporter {
  start(epoch: number, epochs: number, batches: number): void;
  batch(done: number, loss: number): void;
  end(line: string): void;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function consoleProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const tty = !!stream.isTTY;
  let epoch = 0, epochs = 0, batches = 0, t0 = 0, lastDraw = 0;
  const runStart = Date.now();
  return {
    start(e, n, b) {
      epoch = e; epochs = n; batches = b; t0 = Date.now();
    },
    batch(done, loss) {
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < 100 && done < batches) return;
      lastDraw = now;
      const frac = batches ? done / batches : 0;
      const width = 24;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      const elapsed = (now - runStart) / 1000;
      const perEpoch = (now - t0) / 1000 / Math.max(frac, 1e-9);
      const eta = perEpoch * (1 - frac) + perEpoch * (epochs - epoch - 1);
      stream.write(`\repoch ${epoch + 1}/${epochs} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% loss ${loss.toFixed(5)} elapsed ${fmtTime(elapsed)} ETA ${fmtTime(eta)}  `);
    },
    end(line) {
      stream.write(tty ? `\r${line}${' '.repeat(30)}\n` : `${line}\n`);
    },
  };
}

export const silentProgress: ProgressReporter = { start() {}, batch() {}, end() {} };

export { fmtTime };
