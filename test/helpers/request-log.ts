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
