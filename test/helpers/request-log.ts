import type { Server } from 'node:http';

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  ifModifiedSince?: string;
  userAgent?: string;
  status: number;
}

/** Records every request a server answers, with its status: what a real client actually asked. */
export function logRequests(server: Server): LoggedRequest[] {
  const log: LoggedRequest[] = [];
  server.on('request', (request, response) => {
    response.on('finish', () =>
      log.push({
        method: request.method ?? '',
        url: request.url ?? '',
        range: request.headers.range,
        ifModifiedSince: request.headers['if-modified-since'],
        userAgent: request.headers['user-agent'],
        status: response.statusCode,
      }),
    );
  });
  return log;
}

/**
 * The headers a server wrote for each request, as written: set one by one (Koa) or passed whole
 * to writeHead (the hot path, which Node then does not keep for getHeader). Listens before the
 * server's own listener, so it sees every writeHead.
 */
export function logAnswerHeaders(server: Server): { url: string; headers: Record<string, string> }[] {
  const log: { url: string; headers: Record<string, string> }[] = [];
  server.prependListener('request', (request, response) => {
    const written: Record<string, string> = {};
    const writeHead = response.writeHead.bind(response) as (...args: unknown[]) => typeof response;
    (response as { writeHead: unknown }).writeHead = (...args: unknown[]) => {
      const headers = args.find((arg, index) => index > 0 && typeof arg === 'object' && arg !== null);
      if (Array.isArray(headers)) for (let index = 0; index + 1 < headers.length; index += 2) written[String(headers[index]).toLowerCase()] = String(headers[index + 1]);
      else if (headers) for (const [name, value] of Object.entries(headers)) written[name.toLowerCase()] = String(value);
      return writeHead(...args);
    };
    response.on('finish', () => {
      for (const [name, value] of Object.entries(response.getHeaders())) written[name] ??= String(value);
      log.push({ url: request.url ?? '', headers: written });
    });
  });
  return log;
}
