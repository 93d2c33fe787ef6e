import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../../src/config/config.ts';
import { projectRoot } from '../helpers/environment.ts';

const unitsDirectory = path.join(projectRoot, 'deploy', 'systemd');

async function unitPaths(unit: string): Promise<{ writable: string[]; readOnly: string[]; execStart: string }> {
  const text = await readFile(path.join(unitsDirectory, unit), 'utf8');
  const values = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gmu'))].flatMap((match) => match[1]!.trim().split(/\s+/u));
  return { writable: values('ReadWritePaths'), readOnly: values('ReadOnlyPaths'), execStart: values('ExecStart').join(' ') };
}

const within = (file: string, folders: string[]) => folders.some((folder) => file === folder || file.startsWith(`${folder}/`));

test('the example config names exactly the folders the systemd units let each service write or read', async (t) => {
  const config = await loadConfig(path.join(projectRoot, 'deploy', 'lgwan-mirror.example.yaml'));
  const internet = await unitPaths('lgwan-mirror-internet.service');
  const lgwan = await unitPaths('lgwan-mirror-lgwan.service');
  const receive = await unitPaths('lgwan-mirror-udp-receive.service');
  const send = await unitPaths('lgwan-mirror-udp-send.service');
  t.true(within(config.internet.storage, internet.writable), config.internet.storage);
  t.true(within(config.internet.spool, internet.writable), config.internet.spool);
  t.true(within(config.internet.transferKey, internet.writable), config.internet.transferKey);
  t.true(within(config.lgwan.storage, lgwan.writable), config.lgwan.storage);
  t.true(within(config.lgwan.spool, lgwan.readOnly), config.lgwan.spool);
  t.false(within(config.lgwan.spool, lgwan.writable), 'the LGWAN service may not write its spool');
  t.true(within(config.lgwan.spool, receive.writable), 'the diode receiver writes the LGWAN spool');
  t.true(within(config.internet.spool, send.readOnly), 'the diode sender reads the internet spool');
  t.not(config.internet.spool, config.lgwan.spool, 'outbox and inbox are separate folders');
  for (const unit of [internet, lgwan, receive, send]) t.regex(unit.execStart, /^\/usr\/bin\/lgwan-mirror .*--config \/etc\/lgwan-mirror\/lgwan-mirror\.yaml$/u);
});

test('the operations guide and the configuration docs name the same folders as the units and the example config', async (t) => {
  const config = await loadConfig(path.join(projectRoot, 'deploy', 'lgwan-mirror.example.yaml'));
  const folders = [config.internet.storage, config.internet.spool, config.lgwan.storage, config.lgwan.spool, '/etc/lgwan-mirror/lgwan-mirror.yaml', config.internet.catalogs];
  for (const document of ['docs/operations.md', 'docs/configuration.md']) {
    const text = await readFile(path.join(projectRoot, document), 'utf8');
    for (const folder of folders) t.true(text.includes(folder), `${document} names ${folder}`);
    // The old layouts (a checkout under /opt run through node, one shared spool) are gone.
    t.false(text.includes('/usr/bin/node /opt'), document);
    t.false(/\/var\/spool\/lgwan-mirror(?!\/(outbox|inbox))/u.test(text), `${document}: the spool is always outbox or inbox`);
  }
});
