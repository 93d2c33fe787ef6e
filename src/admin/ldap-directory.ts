import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type * as Ldapts from 'ldapts';
import * as z from 'zod';
import { errorMessage, UserFacingError } from '../core/errors.ts';
import { roles, type Grant, type Role } from './roles.ts';

/**
 * Sign-in against a municipality's Active Directory or OpenLDAP (issue 14): search-then-bind
 * with a read-only service account, roles from group membership. Nothing is cached and no
 * password is stored: every sign-in asks the directory again, so a removed membership or a
 * disabled account takes effect at the next sign-in.
 */

/** One directory, as validated by {@link directoryConfigSchema} (paths already resolved by the caller). */
export interface DirectoryConfig {
  /** `ldap://host[:port]` or `ldaps://host[:port]`. */
  url: string;
  /** The service account that may read users and groups. */
  bindDn: string;
  /** A file holding the service account's password (one trailing line break is ignored). */
  bindPasswordFile: string;
  /** Where users are searched (subtree). */
  userBase: string;
  /** An RFC 4515 filter with `{username}` as the whole value of one or more equality assertions, e.g. `(sAMAccountName={username})`. */
  userFilter: string;
  /** Where groups with `member=<user DN>` are searched (groupOfNames, AD groups); without it only the user's `memberOf` counts. */
  groupBase?: string;
  /** Group DN → role (and tenant, for the tenant roles). */
  groups: { dn: string; role: Role; tenant?: string }[];
  /** Upgrade an `ldap://` connection with StartTLS before anything is sent. */
  startTls?: boolean;
  /** PEM file of the CA(s) that issued the directory's certificate; default: Node's bundled CAs. */
  caFile?: string;
  /** Bound for connecting and for each operation; default 5. */
  timeoutSeconds?: number;
}

/** Who signed in: `dn` is the stable identity (key sessions and audit records on it). */
export interface DirectoryUser {
  /** The directory's own spelling of the sign-in name when the filter's attribute returns it, else what was typed. */
  username: string;
  dn: string;
  displayName?: string;
  grants: Grant[];
}

/** The directory could not answer (unreachable, TLS refused, service bind rejected, search failed): not a wrong password. */
export class DirectoryUnavailableError extends UserFacingError {
  constructor(url: string, action: string, cause: unknown) {
    super('E_DIRECTORY_UNAVAILABLE', `directory ${url}: ${action} failed: ${errorMessage(cause)}`, { cause, details: { url, action } });
  }
}

const placeholder = '{username}';
const defaultTimeoutSeconds = 5;

/**
 * The user filter with the typed name put in as a value, never as filter text: the template is
 * parsed first, then each `{username}` equality value is replaced, so `*`, `(`, `)`, `\` or NUL
 * in a name reach the server as literal octets (RFC 4515 only matters for the string form).
 * Returns the attributes that carried the name, to read back the directory's own spelling.
 */
function userFilterFor(ldap: FilterClasses, template: string, username: string): { filter: Ldapts.Filter; attributes: string[] } {
  const { AndFilter, EqualityFilter, FilterParser, NotFilter, OrFilter } = ldap;
  const filter = FilterParser.parseString(template);
  const attributes: string[] = [];
  const visit = (node: Ldapts.Filter): void => {
    if (node instanceof AndFilter || node instanceof OrFilter) node.filters.forEach(visit);
    else if (node instanceof NotFilter) visit(node.filter);
    else if (node instanceof EqualityFilter && node.value === placeholder) {
      node.value = username;
      attributes.push(node.attribute);
    }
  };
  visit(filter);
  // Anything left over (`{username}` inside a substring or `>=`) would be searched for literally.
  if (attributes.length === 0 || attributes.length !== template.split(placeholder).length - 1) {
    throw new Error(`userFilter ${template}: ${placeholder} must be the whole value of an equality assertion, e.g. (uid=${placeholder})`);
  }
  return { filter, attributes };
}

/*
 * ldapts (and what it brings) is a good part of start-up (issue 18) and most installs name no
 * directory. The config check runs inside the schema, which is synchronous: it requires
 * ldapts's CommonJS build, and only when a config names a directory. Sign-in imports the
 * module build at the first directory sign-in; each uses the filter classes of its own copy.
 */
type FilterClasses = Pick<typeof Ldapts, 'AndFilter' | 'EqualityFilter' | 'FilterParser' | 'NotFilter' | 'OrFilter'>;
let checkingClasses: FilterClasses | undefined;

function isUsableUserFilter(template: string): boolean {
  const ldap = (checkingClasses ??= createRequire(import.meta.url)('ldapts') as FilterClasses);
  try {
    userFilterFor(ldap, template, 'x');
    return true;
  } catch {
    return false;
  }
}

const loopbackHosts = new Set(['127.0.0.1', '[::1]', 'localhost']);
const ldapUrlPattern = /^(ldaps?):\/\/([^/?#\s:]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?\/?$/iu;

const groupSchema = z
  .strictObject({
    dn: z.string().min(1).describe('the group, e.g. CN=LGWAN-Mirror-Admins,OU=Groups,DC=city,DC=example,DC=lg,DC=jp'),
    role: z.enum(roles).describe('operator sees every tenant; tenant-admin, tenant-approver and tenant-viewer one tenant'),
    tenant: z.string().min(1).optional().describe('the tenant id the role applies to (not for operator)'),
  })
  .refine((group) => (group.role === 'operator') === (group.tenant === undefined), {
    message: 'operator takes no tenant; tenant-admin, tenant-approver and tenant-viewer need one',
    path: ['tenant'],
  });

/** The YAML shape of one directory (`lgwan.directories: [...]`). */
export const directoryConfigSchema = z
  .strictObject({
    url: z.string().regex(ldapUrlPattern, 'ldap://host[:port] or ldaps://host[:port]').describe('the directory server'),
    bindDn: z.string().min(1).describe('DN of the read-only service account'),
    bindPasswordFile: z.string().min(1).describe("file holding the service account's password (readable by the service only)"),
    userBase: z.string().min(1).describe('subtree searched for users'),
    userFilter: z
      .string()
      .refine(isUsableUserFilter, `an LDAP filter with ${placeholder} as the whole value of an equality, e.g. (sAMAccountName=${placeholder}) or (uid=${placeholder})`)
      .describe('finds exactly one user by the name typed at sign-in'),
    groupBase: z.string().min(1).optional().describe('subtree searched for groups with member=<user DN>; the user’s memberOf counts too'),
    groups: z.array(groupSchema).min(1).describe('group DN → role; a user in none of them cannot sign in'),
    startTls: z.boolean().default(false).describe('upgrade ldap:// with StartTLS'),
    caFile: z.string().min(1).optional().describe("PEM file of the CA that issued the directory's certificate"),
    timeoutSeconds: z.number().min(0.1).max(60).default(defaultTimeoutSeconds).describe('bound for connecting and for each operation'),
  })
  .superRefine((config, context) => {
    const match = ldapUrlPattern.exec(config.url);
    if (!match) return;
    const secure = match[1]!.toLowerCase() === 'ldaps';
    if (secure && config.startTls) context.addIssue({ code: 'custom', path: ['startTls'], message: 'ldaps:// is already TLS: leave startTls out' });
    // A simple bind sends the password as it is: over plain ldap:// anyone on the path reads it.
    if (!secure && !config.startTls && !loopbackHosts.has(match[2]!.toLowerCase())) {
      context.addIssue({ code: 'custom', path: ['url'], message: 'ldap:// sends passwords unencrypted: use ldaps:// or startTls: true (plain ldap:// only to this host)' });
    }
  }) satisfies z.ZodType<DirectoryConfig>;

/**
 * Canonical form of a DN for comparing group DNs from the config with those the directory
 * returns (AD answers `CN=Staff,OU=…`, an admin writes `cn=staff, ou=…`): attribute types
 * and values lower-cased (the naming attributes match case-insensitively), escapes decoded,
 * spaces around separators dropped, multi-valued RDNs sorted.
 */
export function normalizeDn(dn: string): string {
  const rdns: string[][] = [];
  let rdn: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    rdn.push(Buffer.from(bytes).toString('utf8').trim().toLowerCase());
    bytes = [];
  };
  // By code point, so a character outside the BMP is not split into halves.
  const chars = Array.from(dn);
  for (let index = 0; index < chars.length; index += 1) {
    const char = chars[index]!;
    if (char === '\\') {
      const hex = `${chars[index + 1] ?? ''}${chars[index + 2] ?? ''}`;
      if (/^[0-9A-Fa-f]{2}$/u.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        index += 2;
      } else if (index + 1 < chars.length) {
        bytes.push(...Buffer.from(chars[index + 1]!, 'utf8'));
        index += 1;
      }
    } else if (char === ',' || char === '+') {
      flush();
      if (char === ',') {
        rdns.push(rdn.sort());
        rdn = [];
      }
    } else bytes.push(...Buffer.from(char, 'utf8'));
  }
  flush();
  rdns.push(rdn.sort());
  // Each part is still `type=value`: trim around its '=' too.
  return JSON.stringify(rdns.map((parts) => parts.map((part) => part.split('=').map((side) => side.trim()).join('='))));
}

async function readBindPassword(config: DirectoryConfig): Promise<string> {
  let text: string;
  try {
    text = await readFile(config.bindPasswordFile, 'utf8');
  } catch (error) {
    throw new UserFacingError('E_CONFIG_INVALID', `directory ${config.url}: cannot read bindPasswordFile ${config.bindPasswordFile}: ${errorMessage(error)}`, {
      cause: error,
      details: { url: config.url, file: config.bindPasswordFile },
    });
  }
  const password = text.replace(/\r?\n$/u, '');
  // A DN with an empty password is an unauthenticated bind: many servers answer "success" and
  // the service would search with anonymous rights, failing in ways that look like wrong passwords.
  if (password.length === 0) {
    throw new UserFacingError('E_CONFIG_INVALID', `directory ${config.url}: bindPasswordFile ${config.bindPasswordFile} is empty`, {
      details: { url: config.url, file: config.bindPasswordFile },
    });
  }
  return password;
}

async function tlsOptionsFor(config: DirectoryConfig, host: string): Promise<ConnectionOptions> {
  const options: ConnectionOptions = { host, minVersion: 'TLSv1.2' };
  // SNI takes names only (RFC 6066); certificate checking uses `host` either way.
  if (isIP(host) === 0) options.servername = host;
  if (config.caFile !== undefined) {
    try {
      options.ca = await readFile(config.caFile);
    } catch (error) {
      throw new UserFacingError('E_CONFIG_INVALID', `directory ${config.url}: cannot read caFile ${config.caFile}: ${errorMessage(error)}`, {
        cause: error,
        details: { url: config.url, file: config.caFile },
      });
    }
  }
  return options;
}

/** An attribute's string values; servers may spell the name differently from the request (memberof, memberOf). */
function valuesOf(entry: Record<string, unknown>, attribute: string): string[] {
  const key = Object.keys(entry).find((name) => name.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string');
}

/** Rejects after `ms` unless `promise` settles first; `onTimeout` closes what the promise waits on. */
async function within<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what} timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Signs `username` in against one directory: bind as the service account, find exactly one
 * user with `userFilter`, map its groups to grants, then bind as that user with `password`.
 *
 * @returns the user, or `undefined` for an empty or wrong password, an unknown or ambiguous
 *   name, a disabled account (AD answers those with invalidCredentials too), or a user in no
 *   mapped group.
 * @throws DirectoryUnavailableError when the directory cannot be reached, TLS fails, the
 *   service bind is refused or a search fails; `UserFacingError` (`E_CONFIG_INVALID`) when the
 *   password or CA file cannot be read; the signal's reason when aborted.
 *
 * @example
 * const user = await authenticateWithDirectory(config, 'tanaka', password, { signal: request.signal });
 * if (user === undefined) return showWrongCredentials();
 */
export async function authenticateWithDirectory(
  config: DirectoryConfig,
  username: string,
  password: string,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<DirectoryUser | undefined> {
  // RFC 4513 §5.1.2: a name with an empty password is an "unauthenticated bind", which many
  // servers accept as success. It must never reach the server, nor must an empty name.
  if (password.length === 0 || username.length === 0) return undefined;
  const { signal } = options;
  signal?.throwIfAborted();
  const timeoutMs = options.timeoutMs ?? (config.timeoutSeconds ?? defaultTimeoutSeconds) * 1000;
  const url = new URL(config.url);
  const host = url.hostname.replace(/^\[(.*)\]$/u, '$1');
  const secure = url.protocol.toLowerCase() === 'ldaps:';
  const ldap = await import('ldapts');
  const { Client, EqualityFilter, InvalidCredentialsError, SizeLimitExceededError } = ldap;
  let userFilter: ReturnType<typeof userFilterFor>;
  try {
    userFilter = userFilterFor(ldap, config.userFilter, username);
  } catch (error) {
    throw new UserFacingError('E_CONFIG_INVALID', `directory ${config.url}: ${errorMessage(error)}`, { cause: error, details: { url: config.url, field: 'userFilter' } });
  }
  const { filter, attributes: nameAttributes } = userFilter;
  const bindPassword = await readBindPassword(config);
  const tlsOptions = secure || config.startTls ? await tlsOptionsFor(config, host) : undefined;

  const client = new Client({ url: config.url, timeout: timeoutMs, connectTimeout: timeoutMs, ...(secure ? { tlsOptions } : {}) });
  const close = () => void client.unbind().catch(() => undefined);
  signal?.addEventListener('abort', close, { once: true });
  const ask = async <T>(action: string, run: () => Promise<T>): Promise<T> => {
    // Checked before each step too: after a close, ldapts would quietly connect again.
    signal?.throwIfAborted();
    try {
      return await run();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new DirectoryUnavailableError(config.url, action, error);
    }
  };
  try {
    // ldapts bounds the StartTLS request but not the TLS handshake after it.
    if (config.startTls) await ask('StartTLS', () => within(client.startTLS(tlsOptions), timeoutMs, 'StartTLS', close));
    await ask('service bind', () => client.bind(config.bindDn, bindPassword));

    const found = await ask('user search', async () => {
      try {
        // Two are enough to tell "exactly one" from "several" without reading a whole subtree.
        const { searchEntries } = await client.search(config.userBase, { scope: 'sub', filter, sizeLimit: 2, attributes: ['displayName', 'memberOf', ...nameAttributes] });
        return searchEntries;
      } catch (error) {
        if (error instanceof SizeLimitExceededError) return [];
        throw error;
      }
    });
    if (found.length !== 1) return undefined;
    const entry = found[0]!;
    // An empty DN would make the next bind anonymous.
    if (entry.dn.length === 0) return undefined;

    const memberships = new Set(valuesOf(entry, 'memberOf').map(normalizeDn));
    if (config.groupBase !== undefined) {
      const groupBase = config.groupBase;
      const groups = await ask('group search', () =>
        client.search(groupBase, { scope: 'sub', filter: new EqualityFilter({ attribute: 'member', value: entry.dn }), attributes: ['1.1'], paged: true }),
      );
      for (const group of groups.searchEntries) memberships.add(normalizeDn(group.dn));
    }
    const grants = new Map<string, Grant>();
    for (const group of config.groups) {
      if (!memberships.has(normalizeDn(group.dn))) continue;
      grants.set(`${group.role}\u0000${group.tenant ?? ''}`, group.tenant === undefined ? { role: group.role } : { role: group.role, tenant: group.tenant });
    }
    if (grants.size === 0) return undefined;

    // Last, so every search above ran with the service account's rights, not the user's.
    const accepted = await ask('user bind', async () => {
      try {
        await client.bind(entry.dn, password);
        return true;
      } catch (error) {
        if (error instanceof InvalidCredentialsError) return false;
        throw error;
      }
    });
    if (!accepted) return undefined;

    const spelled = nameAttributes.flatMap((attribute) => valuesOf(entry, attribute)).find((value) => value.toLowerCase() === username.toLowerCase());
    const displayName = valuesOf(entry, 'displayName')[0];
    return { username: spelled ?? username, dn: entry.dn, ...(displayName === undefined ? {} : { displayName }), grants: [...grants.values()] };
  } finally {
    signal?.removeEventListener('abort', close);
    await client.unbind().catch(() => undefined);
  }
}
