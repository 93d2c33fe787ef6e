import test from 'ava';
import { createEnvironment } from '../helpers/environment.ts';

test('two fetch runs at once leave one release per version, and the bundle verifies', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await Promise.all([internet.fetchAll(), internet.fetchAll()]);
  const versions = internet.database.data.products['demo-firefox']!.releases.map((release) => release.version);
  t.deepEqual(versions, ['131.0']);
  t.is((await internet.send()).status, 'sent');
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
});
