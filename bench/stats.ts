/** Summaries the bench scripts print over their repeated runs. */

/** The middle value after sorting (for an even count, the upper of the two middle ones). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
