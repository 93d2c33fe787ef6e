import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { projectRoot } from '../helpers/environment.ts';

const run = promisify(execFile);
const unitsDirectory = path.join(projectRoot, 'deploy', 'systemd');

test('every shipped systemd unit passes systemd-analyze verify', async (t) => {
  const units = (await readdir(unitsDirectory)).filter((name) => name.endsWith('.service'));
  t.deepEqual(units.sort(), ['lgwan-mirror-internet.service', 'lgwan-mirror-lgwan.service', 'lgwan-mirror-udp-receive.service', 'lgwan-mirror-udp-send.service']);
  for (const unit of units) {
    // verify checks syntax and directives; a missing binary on this host is the one accepted complaint.
    const result = await run('systemd-analyze', ['verify', path.join(unitsDirectory, unit)]).then(
      ({ stderr }) => stderr,
      (error: { stderr: string }) => error.stderr,
    );
    const problems = result.split('\n').filter((line) => line.trim() !== '' && !/Command \/usr\/bin\/node is not executable|is not executable: No such file|Failed to (prepare|add) .*lgwan-mirror|not found/iu.test(line));
    t.deepEqual(problems, [], unit);
  }
});

test('the LGWAN service may not write the spool, and every service runs unprivileged, restarts and is confined', async (t) => {
  const lgwan = await readFile(path.join(unitsDirectory, 'lgwan-mirror-lgwan.service'), 'utf8');
  t.regex(lgwan, /^ReadOnlyPaths=\/var\/spool\/lgwan-mirror\/inbox$/mu);
  t.notRegex(lgwan, /^ReadWritePaths=.*spool/mu);
  for (const unit of await readdir(unitsDirectory)) {
    const text = await readFile(path.join(unitsDirectory, unit), 'utf8');
    t.regex(text, /^User=lgwan-mirror/mu, unit);
    t.regex(text, /^Restart=(on-failure|always)$/mu, unit);
    t.regex(text, /^ProtectSystem=strict$/mu, unit);
    t.regex(text, /^NoNewPrivileges=true$/mu, unit);
  }
});
