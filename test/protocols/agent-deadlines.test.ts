import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { ReleaseDecision } from '../../src/admin/rings.ts';
import { clockedRepository } from '../helpers/clocked-repository.ts';
import { issueEnrollmentToken, signIn } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { shAgentHost, type ShAgentHostOptions } from '../helpers/sh-agent-host.ts';

/*
 * Issue 15, point 4, with the real deploy/agent/lgwan-agent.sh against a real repository on
 * 127.0.0.1: release 131.0 of demo-firefox is approved for the ring "general" with a weekly
 * maintenance window (Monday 10:00–11:00, Asia/Tokyo) and a deadline. The repository's clock
 * (createRepositoryApp's `now`) is set to before the window, inside it, and past the deadline;
 * what the agent installs, when, and what it reports follow the server's answer.
 */


// 2026-12-07 is a Monday. JST is UTC+9.
const mondayJst = (hour: number, minute = 0) => Date.UTC(2026, 11, 7, hour - 9, minute);
const tuesdayJst = (hour: number) => Date.UTC(2026, 11, 8, hour - 9);

const host = (root: string, repositoryUrl: string, token: string, options: ShAgentHostOptions = {}) => shAgentHost(root, repositoryUrl, '130.0', token, options);

const approval = (schedule: ReleaseDecision['schedule']): ReleaseDecision => ({
  tenant: 'default',
  kind: 'approve',
  product: 'demo-firefox',
  version: '131.0',
  ring: 'general',
  at: new Date(mondayJst(8)).toISOString(),
  by: 'approver',
  ...(schedule ? { schedule } : {}),
});

test('the sh agent waits outside the window, installs inside it, installs past the deadline, and reports each result', async (t) => {
  const { environment, lgwan } = await publishedRepository(t, {
    lgwan: { rings: [{ id: 'pilot', agentTags: ['pilot'] }, { id: 'general' }], policies: { 'demo-firefox': { general: 'approval' } } },
  });
  const repository = await clockedRepository(t, lgwan, { at: mondayJst(9) });
  const window = { days: [1], start: 10 * 60, end: 11 * 60 };
  await lgwan.admin.putDecision(approval({ windows: [window], deadline: new Date(mondayJst(12)).toISOString(), timeZone: 'Asia/Tokyo' }));

  // Monday 09:00 JST: the window has not opened. Nothing is downloaded or installed; the agent says until when it waits.
  const inWindowHost = await host(path.join(environment.root, 'window'), repository.url, await issueEnrollmentToken(lgwan.admin));
  t.is(await inWindowHost.runAgent(), 0);
  const waited = await inWindowHost.newLog();
  t.regex(waited, /demo-firefox: 131\.0 waits for the next maintenance window, not before 2026-12-07T01:00:00\.000Z \(outside-window, deadline 2026-12-07T03:00:00\.000Z\)/u);
  t.notRegex(waited, /downloading/u);
  t.is(await inWindowHost.version(), '130.0');

  // Monday 10:30 JST: inside the window. It installs, and the check-in right after reports the result.
  repository.setClock(mondayJst(10, 30));
  t.is(await inWindowHost.runAgent(), 0);
  const installed = await inWindowHost.newLog();
  t.regex(installed, /demo-firefox: installing 131\.0 now \(in-window, deadline 2026-12-07T03:00:00\.000Z\)/u);
  t.regex(installed, /demo-firefox: installed 131\.0/u);
  t.is(await inWindowHost.version(), '131.0');
  const results = await lgwan.admin.listInstallResults('default');
  t.is(results.length, 1);
  t.like(results[0], { product: 'demo-firefox', version: '131.0', outcome: 'installed', exitCode: 0, message: 'unpacked 131.0', ring: 'general', reportedAt: new Date(mondayJst(10, 30)).toISOString() });
  t.true((await readFile(path.join(inWindowHost.directory, 'state', 'checkin.json'), 'utf8')).includes('"results":[{"product":"demo-firefox","version":"131.0","outcome":"installed","exitCode":0,"message":"unpacked 131.0"}]'), 'the check-in after the install carried the result');
  t.deepEqual((await readdir(path.join(inWindowHost.directory, 'state'))).filter((name) => name.startsWith('results')), [], 'answered, so nothing is left to report again');
  t.is(await inWindowHost.runAgent(), 0);
  t.false((await readFile(path.join(inWindowHost.directory, 'state', 'checkin.json'), 'utf8')).includes('"results"'), 'the next run reports no result twice');

  // Tuesday 09:00 JST: outside any window, but past Monday's 12:00 deadline. A host whose install
  // fails installs anyway, and its failure (exit code, the command's last line) is reported.
  repository.setClock(tuesdayJst(9));
  const failingHost = await host(path.join(environment.root, 'failing'), repository.url, await issueEnrollmentToken(lgwan.admin), { install: 'echo "no space left on device" >&2; exit 3' });
  t.is(await failingHost.runAgent(), 0);
  const forced = await failingHost.newLog();
  t.regex(forced, /demo-firefox: installing 131\.0 now \(deadline-passed, deadline 2026-12-07T03:00:00\.000Z\)/u);
  t.regex(forced, /demo-firefox: install command failed for 131\.0 \(exit code 3\)/u);
  t.is(await failingHost.version(), '130.0');
  const failure = (await lgwan.admin.listInstallResults('default')).find((result) => result.outcome === 'failed');
  t.like(failure, { product: 'demo-firefox', version: '131.0', exitCode: 3, message: 'no space left on device', ring: 'general' });

  // The approvals page: one failure reported by a general agent, and the failing host past the deadline.
  await lgwan.inventory.flush();
  const admin = await signIn(lgwan.admin, repository.url, { role: 'tenant-admin', tenant: 'default' });
  const page = await admin.text('/approvals?lang=en');
  const row = /<tr data-version="131\.0">(.*?)<\/tr>/su.exec(page)?.[1] ?? '';
  t.regex(row, /<td>pilot: 0<br>general: 1<\/td><td>pilot: 0<br>general: 1<\/td>/u, 'one general endpoint runs 131.0, one general agent reported a failure');
  t.regex(row, /approved \(deadline 2026-12-07 12:00 \(Asia\/Tokyo\), windows mon 10:00-11:00 \(Asia\/Tokyo\)\)/u);
  const past = /<section id="past-deadline">(.*?)<\/section>/su.exec(page)?.[1] ?? '';
  t.regex(past, /<tr data-endpoint="[^"]+">.*<td>general<\/td><td><code>demo-firefox<\/code><\/td><td>130\.0<\/td><td>131\.0<\/td>.*failed 131\.0 \(exit code 3\): no space left on device/u);
  t.is(past.match(/<tr data-endpoint=/gu)?.length, 1, 'the host that installed 131.0 is not past the deadline');
});

test('without windows the agent installs at once; an approval for another ring schedules nothing here; a pilot host reports its AD placement from the config', async (t) => {
  const { environment, lgwan } = await publishedRepository(t, {
    lgwan: {
      rings: [{ id: 'pilot', adOus: ['OU=Pilot,OU=PCs,DC=city,DC=local'], adGroups: ['LGWAN-Pilot'] }, { id: 'general' }],
      policies: { 'demo-firefox': { pilot: 'approval', general: 'approval' } },
    },
  });
  const repository = await clockedRepository(t, lgwan, { at: mondayJst(9) });
  // Pilot: approved with a deadline only (no window): install now. General: a window that is closed now.
  await lgwan.admin.putDecision({ ...approval({ windows: [], deadline: new Date(tuesdayJst(9)).toISOString(), timeZone: 'Asia/Tokyo' }), ring: 'pilot' });
  await lgwan.admin.putDecision(approval({ windows: [{ days: [1], start: 22 * 60, end: 2 * 60 }], timeZone: 'Asia/Tokyo' }));

  const pilot = await host(path.join(environment.root, 'pilot'), repository.url, await issueEnrollmentToken(lgwan.admin), { extra: 'LGWAN_AD_OU="CN=linux-01,ou=pilot, OU=PCs,DC=City,DC=local"\n' });
  t.is(await pilot.runAgent(), 0);
  t.regex(await pilot.newLog(), /demo-firefox: installing 131\.0 now \(no-window, deadline 2026-12-08T00:00:00\.000Z\)/u);
  t.is(await pilot.version(), '131.0', 'the OU (case and a space after a comma aside) puts it in pilot');

  const grouped = await host(path.join(environment.root, 'grouped'), repository.url, await issueEnrollmentToken(lgwan.admin), { extra: 'LGWAN_AD_GROUPS="Finance PCs;lgwan-pilot"\n' });
  t.is(await grouped.runAgent(), 0);
  t.is(await grouped.version(), '131.0', 'a group name matches case-insensitively');

  const general = await host(path.join(environment.root, 'general'), repository.url, await issueEnrollmentToken(lgwan.admin), { extra: 'LGWAN_AD_OU="OU=Finance,DC=city,DC=local"\nLGWAN_AD_GROUPS="Finance PCs"\n' });
  t.is(await general.runAgent(), 0);
  // The window runs Monday 22:00 to Tuesday 02:00 JST.
  t.regex(await general.newLog(), /demo-firefox: 131\.0 waits for the next maintenance window, not before 2026-12-07T13:00:00\.000Z \(outside-window\)/u);
  t.is(await general.version(), '130.0');
  repository.setClock(tuesdayJst(1));
  t.is(await general.runAgent(), 0);
  t.regex(await general.newLog(), /installing 131\.0 now \(in-window\)/u, 'after midnight, still inside Monday\'s window');
  t.is(await general.version(), '131.0');

  await lgwan.inventory.flush();
  t.deepEqual((await lgwan.inventory.listEndpoints({ offset: 0, limit: 10 })).map((endpoint) => endpoint.ring).sort(), ['general', 'pilot', 'pilot']);
});
