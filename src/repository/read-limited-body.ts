import type { Context } from 'koa';

/** Reads a request body, stopping at `limit` bytes with a 413: endpoints send small JSON only. */
export async function readLimitedBody(ctx: Context, limit: number): Promise<string> {
  if (Number(ctx.get('Content-Length') || '0') > limit) ctx.throw(413, `request bodies are at most ${limit} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) ctx.throw(413, `request bodies are at most ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
