/**
 * The part of an AbortSignal that vigil reads, as a structural type: the published types then
 * need neither the DOM lib nor @types/node (Node's and the DOM's AbortSignal both fit it).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  throwIfAborted(): void;
}
