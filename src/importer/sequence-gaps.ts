/*
 * Skipped sequence numbers, kept as ranges: a signed jump of 2^46 once made the importer grow a
 * list of numbers until V8 ran out of memory, on every restart, on the same spool file; a jump
 * of 3,000,000 made /api/v1/status 48 MB.
 */

export interface SequenceRange {
  from: number;
  to: number;
}

/** The newest gaps are kept; older ones beyond this many are dropped (they stay in the logs). */
export const maxRecordedGaps = 100;

/** The ranges with the numbers strictly between `highest` and `next` added. */
export function withGap(ranges: readonly SequenceRange[], highest: number, next: number): SequenceRange[] {
  if (highest <= 0 || next <= highest + 1) return [...ranges];
  return [...ranges, { from: highest + 1, to: next - 1 }].slice(-maxRecordedGaps);
}

/** Ranges from the list of single numbers older states kept (consecutive numbers merged). */
export function rangesOf(numbers: readonly number[]): SequenceRange[] {
  const ranges: SequenceRange[] = [];
  for (const number of [...numbers].sort((a, b) => a - b)) {
    const last = ranges.at(-1);
    if (last && number <= last.to + 1) last.to = Math.max(last.to, number);
    else ranges.push({ from: number, to: number });
  }
  return ranges.slice(-maxRecordedGaps);
}

/** "2, 5–9 (5 bundles)": what the sequence-gap alarm says. */
export function describeGaps(ranges: readonly SequenceRange[]): string {
  return ranges.map((range) => (range.from === range.to ? String(range.from) : `${range.from}–${range.to} (${range.to - range.from + 1} bundles)`)).join(', ');
}
