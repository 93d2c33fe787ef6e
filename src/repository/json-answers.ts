import { createHash } from 'node:crypto';
import type { Context } from 'koa';

export interface JsonAnswer {
  body: Buffer;
  etag: string;
}

export const jsonType = 'application/json; charset=utf-8';

/** If-None-Match against one strong validator: a list, `*`, or the weak form of the same tag. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  return !!ifNoneMatch && ifNoneMatch.split(',').some((candidate) => candidate.trim() === etag || candidate.trim() === `W/${etag}` || candidate.trim() === '*');
}

/** A value serialised once, with a strong ETag of its bytes. */
export function jsonAnswerOf(value: unknown): JsonAnswer {
  const body = Buffer.from(JSON.stringify(value));
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Sends a made answer, or 304 to a matching If-None-Match. */
export function sendJsonAnswer(ctx: Context, answer: JsonAnswer): void {
  ctx.type = jsonType;
  ctx.set('ETag', answer.etag);
  if (matchesEtag(ctx.get('If-None-Match'), answer.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.body = answer.body;
}

/**
 * JSON answers that are a function of a published state, serialised once, with a strong
 * ETag of their bytes, and answered from memory (304 to a matching If-None-Match) until an
 * import switches the state: the importer replaces the published object, which keys the cache,
 * so an entry can never outlive its publication. At most `maxPerState` variants (query filters)
 * are kept for each state; beyond them answers are made per request.
 */
export class JsonAnswers {
  readonly #answers = new WeakMap<object, Map<string, JsonAnswer>>();
  readonly #maxPerState: number;

  constructor(options: { maxPerState?: number } = {}) {
    this.#maxPerState = options.maxPerState ?? 256;
  }

  of(state: object, key: string, make: () => unknown): JsonAnswer {
    let answers = this.#answers.get(state);
    if (!answers) this.#answers.set(state, (answers = new Map()));
    let answer = answers.get(key);
    if (!answer) {
      answer = jsonAnswerOf(make());
      if (answers.size < this.#maxPerState) answers.set(key, answer);
    }
    return answer;
  }

  answer(ctx: Context, state: object, key: string, make: () => unknown): void {
    sendJsonAnswer(ctx, this.of(state, key, make));
  }
}
