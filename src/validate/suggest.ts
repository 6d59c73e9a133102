/** "Did you mean": the closest known name to a misspelt one, by edit distance (a swap of two letters counts as one). */

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** How far a candidate may be from the word and still be suggested: short words tolerate one edit. */
function tolerance(word: string): number {
  if (word.length <= 4) return 1;
  if (word.length <= 8) return 2;
  return 3;
}

/**
 * The closest candidate within tolerance (case-insensitive), else one the word is a prefix of (or extends), else
 * undefined. Ties go to the first candidate.
 */
export function closest(word: string, names: Iterable<string>): string | undefined {
  const candidates = [...names];
  const lower = word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= tolerance(word) && (!best || distance < best.distance)) best = { candidate, distance };
  }
  if (best) return best.candidate;
  // A truncated or extended name (`slack_webhook` for `slack_webhook_env`) is a likely slip too.
  if (lower.length >= 4) return candidates.find((c) => c.toLowerCase().startsWith(lower) || (c.length >= 4 && lower.startsWith(c.toLowerCase())));
  return undefined;
}

/** ` (did you mean "x"?)`, or an empty string when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
}
