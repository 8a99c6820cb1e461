/**
 * Progress on stderr: a live line on a terminal, cut to the terminal's width so it never wraps,
 * and plain lines otherwise (logs, CI). Whoever prints a warning calls `clearProgressLine()`
 * first, so the warning gets a line of its own; the live line comes back at the next update.
 */

export interface ProgressReporter {
  start(epoch: number, epochs: number, batches: number): void;
  batch(done: number, loss: number): void;
  end(line: string): void;
}

/** What progress writes to: process.stderr, or anything with the same few members. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width; 80 when unknown. */
  readonly columns?: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The stream that shows a live line now, if any. */
let live: ProgressStream | undefined;

/** Erases the live progress line, if one is shown, so the next output starts on a clean line. */
export function clearProgressLine(): void {
  if (live) live.write('\r\x1b[K');
  live = undefined;
}

function width(stream: ProgressStream): number {
  return Math.max((stream.columns ?? 80) - 1, 10);
}

/** Draws `text` as the live line of a terminal, cut to its width. */
function draw(stream: ProgressStream, text: string): void {
  const w = width(stream);
  stream.write(`\r${text.length > w ? text.slice(0, w) : text}\x1b[K`);
  live = stream;
}

/** `epoch 3/30 [#####.....]  45% loss 0.01234 elapsed 12s ETA 1m02s`, with the bar sized to fit `cols`. */
export function epochLine(p: { epoch: number; epochs: number; frac: number; loss: number; elapsed: number; eta: number }, cols: number): string {
  const head = `epoch ${p.epoch + 1}/${p.epochs}`;
  const pct = `${(p.frac * 100).toFixed(0).padStart(3)}%`;
  // times padded to their usual widest, so the bar keeps its width as they change
  const tail = ` ${pct} loss ${p.loss.toFixed(5)} elapsed ${fmtTime(p.elapsed).padEnd(6)} ETA ${fmtTime(p.eta).padEnd(6)}`;
  const room = cols - head.length - tail.length - 3;
  if (room < 5) return `${head}${tail}`.slice(0, cols);
  const barWidth = Math.min(room, 24);
  const bar = '#'.repeat(Math.round(p.frac * barWidth)).padEnd(barWidth, '.');
  return `${head} [${bar}]${tail}`;
}

export function consoleProgress(stream: ProgressStream = process.stderr): ProgressReporter {
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
      const perEpoch = (now - t0) / 1000 / Math.max(frac, 1e-9);
      const eta = perEpoch * (1 - frac) + perEpoch * (epochs - epoch - 1);
      draw(stream, epochLine({ epoch, epochs, frac, loss, elapsed: (now - runStart) / 1000, eta }, width(stream)));
    },
    end(line) {
      if (tty) clearProgressLine();
      stream.write(`${line}\n`);
    },
  };
}

/**
 * A one-line status for work that is not epochs (scoring): redrawn in place on a terminal, at
 * most every 100 ms; elsewhere a plain line at most every `logEverySeconds`.
 */
export function statusLine(stream: ProgressStream = process.stderr, logEverySeconds = 10): { update(text: string): void; done(): void } {
  const tty = !!stream.isTTY;
  let last = 0;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < (tty ? 100 : logEverySeconds * 1000)) return;
      last = now;
      if (tty) draw(stream, text);
      else stream.write(`${text}\n`);
    },
    done() {
      if (tty) clearProgressLine();
    },
  };
}

export const silentProgress: ProgressReporter = { start() {}, batch() {}, end() {} };

export { fmtTime };
