/**
 * Learning-rate schedules: pure functions of the epoch, applied by the trainer at each epoch's
 * start (`opt.lr = schedule(epoch)`), so resuming at epoch k gives the same rate as not stopping.
 */
export type Schedule = (epoch: number) => number;

export type ScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'step'; every: number; gamma: number }
  | { kind: 'exponential'; gamma: number }
  | { kind: 'cosine'; epochs: number; minLr?: number };

export function makeSchedule(baseLr: number, spec: ScheduleSpec): Schedule {
  switch (spec.kind) {
    case 'constant':
      return () => baseLr;
    case 'step':
      if (!(spec.every > 0)) throw new RangeError(`step schedule: every must be positive, got ${spec.every}`);
      return (e) => baseLr * Math.pow(spec.gamma, Math.floor(e / spec.every));
    case 'exponential':
      return (e) => baseLr * Math.pow(spec.gamma, e);
    case 'cosine': {
      const min = spec.minLr ?? 0;
      if (!(spec.epochs > 0)) throw new RangeError(`cosine schedule: epochs must be positive, got ${spec.epochs}`);
      return (e) => min + (baseLr - min) * (1 + Math.cos(Math.PI * Math.min(e, spec.epochs) / spec.epochs)) / 2;
    }
  }
}
