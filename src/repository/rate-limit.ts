/**
 * A per-key token bucket: `burst` requests at once, refilled at `perMinute`. Endpoints
 * check in about hourly; a client checking in many times a minute is broken or hostile.
 * Memory is bounded: the oldest keys are forgotten first.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #burst: number;
  readonly #perMinute: number;
  readonly #maxKeys: number;

  constructor(options: { burst: number; perMinute: number; maxKeys?: number }) {
    this.#burst = options.burst;
    this.#perMinute = options.perMinute;
    this.#maxKeys = options.maxKeys ?? 200_000;
  }

  /** True when the request may go ahead; otherwise the seconds until it may. */
  take(key: string, now = Date.now()): true | number {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 60_000) * this.#perMinute);
    bucket.at = now;
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    return Math.ceil(((1 - bucket.tokens) / this.#perMinute) * 60);
  }
}
