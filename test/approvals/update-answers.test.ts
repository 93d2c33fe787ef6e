import test from 'ava';
import { Rollouts } from '../../src/admin/rollouts.ts';
import { parseUpdatePath, UpdateAnswers } from '../../src/repository/protocols/mozilla-aus.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Issue 18, point 1: update.xml answers are kept per published state, decisions, tenant and
 * ring. A kept answer must never outlive what decided it: a delay that runs out, a new
 * decision, a new publication.
 */

const check = parseUpdatePath('6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml'.split('/').map(decodeURIComponent))!;
const offered = (body: string) => /displayVersion="([^"]+)"/u.exec(body)?.[1];

test('a kept update answer is made again when a delay runs out, a decision is made or a new state is published', async (t) => {
  const tenants = [{ id: 'a', name: 'A市', networks: ['10.0.0.0/8'], rings: [{ id: 'pilot', networks: ['10.1.0.0/16'] }, { id: 'general' }], policies: { 'demo-firefox': { general: { delay: { after: 'pilot', days: 1 } } } } }];
  const { lgwan } = await publishedRepository(t, { lgwan: { tenants } });
  const state = lgwan.database.data;
  const tenant = lgwan.tenants.byId('a')!;
  const publishedAt = Date.parse(state.firstPublished['demo-firefox']!['131.0']!);
  let clock = publishedAt + 0.5 * 86_400_000;
  const rollouts = new Rollouts(lgwan.admin, () => new Date(clock), 60_000);
  const answers = new UpdateAnswers();
  const ask = async (address: string) => {
    const view = await rollouts.view(tenant, state, { address });
    return answers.answer(state, check, undefined, 'http://repository', 'a', view, clock);
  };

  t.is(offered((await ask('10.1.0.5')).body), '131.0', 'pilot: at once');
  const early = await ask('10.9.0.5');
  t.is(offered(early.body), undefined, 'general: half a day after pilot, not yet');
  t.is(early.until, publishedAt + 86_400_000, 'kept until the delay runs out');
  clock = publishedAt + 0.9 * 86_400_000;
  t.is(offered((await ask('10.9.0.5')).body), undefined);
  clock = publishedAt + 86_400_000 + 1000;
  t.is(offered((await ask('10.9.0.5')).body), '131.0', 'the delay ran out: made again');

  await lgwan.admin.putDecision({ tenant: 'a', kind: 'hold', product: 'demo-firefox', version: '130.0', ring: 'general', at: new Date(clock).toISOString(), by: 'test' });
  rollouts.invalidate('a');
  t.is(offered((await ask('10.9.0.5')).body), undefined, 'a hold: made again at once');

  const kept = await ask('10.1.0.5');
  t.is(await ask('10.1.0.5'), kept, 'nothing changed: the same answer object');
  state.published = { ...state.published!, artifacts: state.published!.artifacts.filter((artifact) => artifact.version !== '131.0') };
  t.is(offered((await ask('10.1.0.5')).body), undefined, 'a new publication without 131.0: made again');
});
