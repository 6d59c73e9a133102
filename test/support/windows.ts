/** The most requests (by arrival time, ms) seen in any rolling window of `windowMs`: what a rate limit counts. */
export function busiestWindow(stamps: readonly number[], windowMs: number): number {
  const sorted = [...stamps].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi += 1) {
    while (sorted[lo]! <= sorted[hi]! - windowMs) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}
