import test from 'ava';
import { routeKind } from '../../src/admin/access-guard.ts';
import { prefixRoutes, routeListOf } from '../../src/repository/app.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Every route the app has, asked without a session: a console route answers 401 (API, CSV,
 * metrics) or the way to the sign-in page (HTML) and nothing else; a protocol route answers
 * without any inventory data. A route added later is walked too, because the list comes from
 * the app's own router.
 */
test('every non-protocol route answers nothing but 401 or the sign-in page without a session; protocol routes never carry inventory', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const agent = await enrollAgent(lgwan.admin, url, { hostname: 'secret-host-name' });
  t.is((await agent.checkIn({ installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }] })).status, 200);
  await (await fetch(`${url}/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`, { headers: { 'x-forwarded-for': '10.77.0.1' } })).text();
  await lgwan.inventory.flush();
  const operator = await signIn(lgwan.admin, url);
  t.is((await operator.json<{ total: number }>('/api/v1/endpoints')).total, 2, 'the inventory holds what must not leak');
  const secrets = [agent.agentId, 'secret-host-name', '10.77.0.1', operator.csrf];

  const published = lgwan.database.data.published!;
  const artifact = published.artifacts.find((candidate) => candidate.productId === 'demo-firefox')!;
  const sample: Record<string, string> = { id: 'demo-firefox', key: encodeURIComponent(`agent:${agent.agentId}`), digest: artifact.sha256 };
  const routes = routeListOf(lgwan.app());
  t.true(routes.length >= 25, `the router lists its routes (${routes.length})`);
  const paths = [...routes.map((route) => ({ path: route.path.replace(/:([a-z]+)/gu, (_, name: string) => sample[name] ?? 'x'), methods: route.methods })), ...prefixRoutes.map((path) => ({ path, methods: ['GET'] }))];
  // Paths no route has: what the guard does for them matters as much.
  paths.push({ path: '/api/v1/nothing-here', methods: ['GET'] }, { path: '/admin', methods: ['GET'] }, { path: '/endpoints.csv', methods: ['GET'] });

  let console = 0;
  let protocol = 0;
  for (const { path, methods } of paths) {
    for (const method of new Set([...methods, 'GET', 'POST'])) {
      const response = await fetch(`${url}${path}`, { method, redirect: 'manual', ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
      const body = await response.text();
      // The way back after sign-in repeats the asked path (the asker's own words), nothing else.
      const said = body.replace(`next=${encodeURIComponent(path)}`, 'next=…');
      for (const secret of secrets) t.false(said.includes(secret), `${method} ${path} answered ${response.status} with inventory or session data`);
      if (routeKind(path) === 'protocol') {
        protocol += 1;
        continue;
      }
      console += 1;
      if (response.status === 303) {
        t.regex(response.headers.get('location') ?? '', /^\/sign-in(\?next=|$)/u, `${method} ${path}`);
        t.is(body, `Redirecting to ${response.headers.get('location')}.`, `${method} ${path}: nothing but the redirect`);
      } else if (['/sign-in', '/assets/status.css', '/assets/icon.svg', '/favicon.ico', '/api/v1/openapi.json'].includes(path)) {
        t.true([200, 403, 405, 415].includes(response.status), `${method} ${path} is public and static: ${response.status}`);
      } else {
        t.is(response.status, 401, `${method} ${path}`);
        t.deepEqual(JSON.parse(body), { error: 'sign in first: the console and its API need an admin session' }, `${method} ${path}`);
      }
    }
  }
  t.true(console > 40 && protocol > 10, `walked ${console} console and ${protocol} protocol requests`);

  // The same routes with a session answer (the walk is not passing because everything is 401).
  t.is((await operator.fetch('/api/v1/coverage')).status, 200);
  t.is((await operator.fetch('/metrics')).status, 200);
  t.is((await operator.fetch(`/endpoints/${sample.key}`)).status, 200);
});

test('/metrics answers a scrape token too, and only with it; the token sees nothing else', async (t) => {
  const { environment } = await publishedRepository(t);
  const { writeFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const tokenFile = path.join(environment.root, 'metrics-token');
  await writeFile(tokenFile, 'scrape-token-0123456789abcdef\n', { mode: 0o600 });
  const { url } = await publishedRepository(t, { lgwan: { console: { metricsTokenFile: tokenFile } } });
  t.is((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456789abcdef' } })).status, 200);
  t.is((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456789abcdeX' } })).status, 401);
  t.is((await fetch(`${url}/api/v1/endpoints`, { headers: { authorization: 'Bearer scrape-token-0123456789abcdef' } })).status, 401);
});
