/** Cancellation of long native work: what vigil reads of an AbortSignal, and the step between steps. */
import { setImmediate } from 'node:timers/promises';

/**
 * The part of an AbortSignal that vigil reads, as a structural type: the published types then
 * need neither the DOM lib nor @types/node (Node's and the DOM's AbortSignal both fit it).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  throwIfAborted(): void;
}

/**
 * Lets the event loop run (timers, I/O, a server, a progress redraw) between two steps of native
 * work, which would otherwise hold it for a whole fit or scoring pass, then stops if the signal
 * was aborted. Costs a few microseconds a step.
 */
export async function betweenSteps(signal?: AbortSignalLike): Promise<void> {
  await setImmediate();
  signal?.throwIfAborted();
}
