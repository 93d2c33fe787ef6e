import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort } from './processes.ts';

const run = promisify(execFile);

export const suffix = 'dc=example,dc=lg,dc=jp';
export const peopleBase = `ou=people,${suffix}`;
export const groupBase = `ou=groups,${suffix}`;
export const serviceDn = `cn=lgwan-mirror,ou=services,${suffix}`;
export const userDn = (uid: string, ou = 'people') => `uid=${uid},${ou === 'people' ? peopleBase : `ou=${ou},${peopleBase}`}`;
export const groupDn = (cn: string) => `cn=${cn},${groupBase}`;

export interface TestUser {
  uid: string;
  password: string;
  displayName?: string;
  /** A sub-OU of ou=people (e.g. 'solo'). */
  ou?: string;
  /** AD's attributes, for the Active Directory shape: no groupOfNames, memberOf on the user. */
  samAccountName?: string;
  memberOf?: string[];
}

export interface TestSlapd {
  /** ldap://127.0.0.1:<port> (StartTLS offered). */
  url: string;
  /** ldaps://127.0.0.1:<port>. */
  ldapsUrl: string;
  /** The CA that issued the server's certificate (for 127.0.0.1 and localhost). */
  caFile: string;
  servicePassword: string;
  /** What slapd logged at level `stats` so far (connections, binds, searches with their filters). */
  log(): string;
  /** Runs `work` with a client bound as the database's root DN (to change groups mid-test). */
  asAdmin<T>(work: (client: Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/** RFC 2307 `{SSHA}`: what slappasswd writes, made here so no password appears in a process list. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  return `{SSHA}${Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64')}`;
}

/** Just enough of AD's schema to search by sAMAccountName and read memberOf (AD's own OIDs; the class is a test one). */
const adLikeSchema = `attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'lgwanTestAdUser' AUXILIARY MAY ( sAMAccountName $ memberOf ) )
`;

function ldif(users: TestUser[], groups: Record<string, string[]>, servicePassword: string): string {
  const entries: string[] = [
    `dn: ${suffix}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example City`,
    `dn: ${peopleBase}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${groupBase}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ou=services,${suffix}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ${serviceDn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: lgwan-mirror\nuserPassword: ${ssha(servicePassword)}`,
  ];
  for (const ou of new Set(users.flatMap((user) => (user.ou ? [user.ou] : [])))) entries.push(`dn: ou=${ou},${peopleBase}\nobjectClass: organizationalUnit\nou: ${ou}`);
  for (const user of users) {
    const lines = [`dn: ${userDn(user.uid, user.ou)}`, 'objectClass: inetOrgPerson'];
    if (user.samAccountName || user.memberOf) lines.push('objectClass: lgwanTestAdUser');
    lines.push(`uid: ${user.uid}`, `cn: ${user.uid}`, `sn: ${user.uid}`, `userPassword: ${ssha(user.password)}`);
    // Base64 (`::`) keeps non-ASCII names exact in LDIF.
    if (user.displayName) lines.push(`displayName:: ${Buffer.from(user.displayName).toString('base64')}`);
    if (user.samAccountName) lines.push(`sAMAccountName: ${user.samAccountName}`);
    for (const group of user.memberOf ?? []) lines.push(`memberOf: ${group}`);
    entries.push(lines.join('\n'));
  }
  for (const [cn, members] of Object.entries(groups)) entries.push([`dn: ${groupDn(cn)}`, 'objectClass: groupOfNames', `cn: ${cn}`, ...members.map((member) => `member: ${member}`)].join('\n'));
  return `${entries.join('\n\n')}\n`;
}

/** A CA and a server certificate for 127.0.0.1 and localhost. */
async function makeCertificates(directory: string) {
  const file = (name: string) => path.join(directory, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Example City Test CA', '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  await run('openssl', ['req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr')]);
  await writeFile(file('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('san.cnf'), '-out', file('server.crt')]);
  return { ca: file('ca.crt'), cert: file('server.crt'), key: file('server.key') };
}

/**
 * A real OpenLDAP server of the test's own, in the foreground on 127.0.0.1 (plain with
 * StartTLS, and ldaps) with a temporary slapd.conf and mdb database loaded by slapadd.
 * Users are inetOrgPerson under ou=people, groups groupOfNames under ou=groups, and the
 * service account may read both but not passwords.
 *
 * The server is configured with `allow bind_anon_dn`: a bind with a DN and an empty password
 * then SUCCEEDS (as anonymous), as on the many servers that accept unauthenticated binds — so a
 * client that sent one would be caught.
 */
export async function startSlapd(users: TestUser[], groups: Record<string, string[]>): Promise<TestSlapd> {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-slapd-'));
  try {
    const servicePassword = randomBytes(12).toString('hex');
    const rootPassword = randomBytes(12).toString('hex');
    const rootDn = `cn=admin,${suffix}`;
    const certificates = await makeCertificates(root);
    await mkdir(path.join(root, 'data'));
    await writeFile(path.join(root, 'ad-like.schema'), adLikeSchema);
    const schemas = ['core', 'cosine', 'inetorgperson', 'nis'].map((name) => `include /etc/ldap/schema/${name}.schema`);
    const configFile = path.join(root, 'slapd.conf');
    await writeFile(
      configFile,
      [
        ...schemas,
        `include ${path.join(root, 'ad-like.schema')}`,
        `pidfile ${path.join(root, 'slapd.pid')}`,
        'modulepath /usr/lib/ldap',
        'moduleload back_mdb',
        'allow bind_anon_dn',
        `TLSCACertificateFile ${certificates.ca}`,
        `TLSCertificateFile ${certificates.cert}`,
        `TLSCertificateKeyFile ${certificates.key}`,
        'database mdb',
        'maxsize 16777216',
        `suffix "${suffix}"`,
        `rootdn "${rootDn}"`,
        `rootpw ${ssha(rootPassword)}`,
        `directory ${path.join(root, 'data')}`,
        'access to attrs=userPassword by anonymous auth by * none',
        `access to * by dn.exact="${serviceDn}" read by self read by * none`,
        '',
      ].join('\n'),
    );
    await writeFile(path.join(root, 'data.ldif'), ldif(users, groups, servicePassword));
    await run('/usr/sbin/slapadd', ['-q', '-f', configFile, '-l', path.join(root, 'data.ldif')]);

    const port = await freePort();
    const ldapsPort = await freePort();
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
    // -d keeps slapd in the foreground (our child, ends with us) and logs to stderr.
    const child = spawn('/usr/sbin/slapd', ['-d', 'stats', '-f', configFile, '-h', `${url}/ ${ldapsUrl}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(root, { recursive: true, force: true });
    };
    const asAdmin = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
      const client = new Client({ url, timeout: 5000, connectTimeout: 5000 });
      try {
        await client.bind(rootDn, rootPassword);
        return await work(client);
      } finally {
        await client.unbind().catch(() => undefined);
      }
    };
    for (let attempt = 0; ; attempt += 1) {
      try {
        await asAdmin(async () => undefined);
        break;
      } catch (error) {
        if (attempt > 200 || child.exitCode !== null) {
          await stop();
          throw new Error(`slapd did not start: ${(error as Error).message}\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return { url, ldapsUrl, caFile: certificates.ca, servicePassword, log: () => log, asAdmin, stop };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** The service password as the admin would store it: in a file, with a trailing newline. */
export async function writePasswordFile(directory: string, password: string): Promise<string> {
  const file = path.join(directory, `bind-password-${randomBytes(4).toString('hex')}`);
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return file;
}
