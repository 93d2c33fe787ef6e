// A minimal node:http server answering a fixed body: shows what Node itself costs, apart from Koa and our code.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = readFileSync(process.argv[2]!);
const server = createServer((_request, response) => {
  response.setHeader('content-type', 'application/octet-stream');
  response.end(body);
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address() as { port: number };
  console.log(`ready http://127.0.0.1:${address.port}`);
});
