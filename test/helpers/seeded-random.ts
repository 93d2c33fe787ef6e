/**
 * A deterministic pseudo-random sequence (xorshift32): the same seed gives the same data, so a
 * failing property or a benchmark run can be replayed. `below(n)` is an integer in [0, n).
 */
export function seededRandom(seed: number): (below: number) => number {
  let state = seed;
  return (below: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}
