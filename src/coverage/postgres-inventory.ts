import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { defaultTenantId } from '../admin/tenants.ts';
import { DatabaseError } from '../core/errors.ts';
import type { ProductTally, TallyRequest } from './coverage-source.ts';
import type { VersionProfile, VersionProfileRequest } from './version-profiles.ts';
import { applyObservation, historyLength, maxProductsPerEndpoint, type EndpointRecord, type InventoryHealth, type InventoryObservation, type InventoryStore } from './inventory.ts';

const migrationsFolder = fileURLToPath(new URL('./postgres-migrations/', import.meta.url));

/**
 * Connects and brings the schema (inventory and admin tables) up to date, under
 * node-pg-migrate's advisory lock so that replicas may start together. Ends the pool on failure.
 */
export async function applyMigrations(pool: pg.Pool, name: string): Promise<void> {
  const client = await pool.connect().catch(async (error: unknown) => {
    await pool.end();
    throw new DatabaseError(name, 'connecting', error);
  });
  try {
    await runner({ dbClient: client, dir: migrationsFolder, direction: 'up', migrationsTable: 'lgwan_mirror_migrations', log: () => undefined, checkOrder: true, advisoryLockMode: 'wait' });
  } catch (error) {
    client.release();
    await pool.end();
    throw new DatabaseError(name, `applying migrations from ${path.basename(migrationsFolder)}`, error);
  }
  client.release();
}

/** A connection URL with its password removed, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable connection URL)';
  }
}

export interface PostgresInventoryOptions {
  url: string;
  /** How often pending observations are written (ms); 0 writes only on flush(). */
  flushIntervalMs?: number;
  /** Endpoints per INSERT statement. */
  batchSize?: number;
  poolSize?: number;
}

/**
 * The endpoint inventory in PostgreSQL, for a provider serving many municipalities or for
 * replicas sharing one inventory. Update checks only fold observations into an in-memory
 * batch (the same folding as the lowdb store); a timer writes the batch as a few
 * multi-row upserts in one transaction. Rows are written in key order so that two replicas
 * flushing overlapping endpoints take their row locks in the same order. A failed write
 * keeps the batch for the next attempt: the batch is bounded by the number of endpoints,
 * not by how long the database is away.
 */
export class PostgresInventory implements InventoryStore {
  readonly backend = 'postgresql' as const;
  readonly #pool: pg.Pool;
  readonly #name: string;
  readonly #batchSize: number;
  #pending: Record<string, EndpointRecord> = {};
  #pendingCount = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #lastWriteAt: string | null = null;
  #lastError: InventoryHealth['lastError'] = null;

  private constructor(pool: pg.Pool, name: string, options: PostgresInventoryOptions) {
    this.#pool = pool;
    this.#name = name;
    this.#batchSize = options.batchSize ?? 2000;
    const interval = options.flushIntervalMs ?? 5000;
    if (interval > 0) {
      this.#timer = setInterval(() => void this.flush().catch(() => undefined), interval);
      this.#timer.unref();
    }
  }

  /** Connects and applies the schema migrations (under node-pg-migrate's advisory lock, so replicas may start together). */
  static async open(options: PostgresInventoryOptions): Promise<PostgresInventory> {
    const name = redactedUrl(options.url);
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4, connectionTimeoutMillis: 10_000 });
    // An idle client losing its connection must not crash the repository; the next query reconnects.
    pool.on('error', () => undefined);
    await applyMigrations(pool, name);
    return new PostgresInventory(pool, name, options);
  }

  record(observation: InventoryObservation, now = new Date()): void {
    applyObservation(this.#pending, observation, now.toISOString());
    this.#pendingCount += 1;
  }

  health(): InventoryHealth {
    return { backend: this.backend, pending: this.#pendingCount, lastWriteAt: this.#lastWriteAt, lastError: this.#lastError };
  }

  flush(): Promise<void> {
    // A failed write is reported to its caller; the next flush tries again with everything.
    this.#flushing = this.#flushing.catch(() => undefined).then(() => this.#write());
    return this.#flushing;
  }

  async #write(): Promise<void> {
    const batch = this.#pending;
    const count = this.#pendingCount;
    if (count === 0) return;
    this.#pending = {};
    this.#pendingCount = 0;
    const keys = Object.keys(batch).sort();
    const client = await this.#pool.connect().catch((error: unknown) => this.#keep(batch, count, error));
    try {
      await client.query('BEGIN');
      for (let start = 0; start < keys.length; start += this.#batchSize) await writeChunk(client, keys.slice(start, start + this.#batchSize), batch);
      await client.query('COMMIT');
      this.#lastWriteAt = new Date().toISOString();
      this.#lastError = null;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      this.#keep(batch, count, error);
    } finally {
      client.release();
    }
  }

  /** Puts a batch that could not be written back in front of what arrived since. */
  #keep(batch: Record<string, EndpointRecord>, count: number, error: unknown): never {
    const arrived = this.#pending;
    this.#pending = batch;
    for (const record of Object.values(arrived)) {
      for (const product of Object.values(record.products)) {
        const observation = { endpoint: { kind: record.kind, id: record.id }, tenant: record.tenant, ...(record.hostname ? { hostname: record.hostname } : {}), ...(record.ring ? { ring: record.ring } : {}), source: product.source, product: product.product, platform: product.platform, locale: product.locale, channel: product.channel };
        for (const [version, at] of Object.entries(product.firstSeen)) applyObservation(this.#pending, { ...observation, version }, at);
        applyObservation(this.#pending, { ...observation, version: product.version }, product.seenAt);
      }
    }
    this.#pendingCount += count;
    const wrapped = new DatabaseError(this.#name, 'writing the inventory', error);
    this.#lastError = { at: new Date().toISOString(), message: wrapped.message };
    throw wrapped;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    try {
      await this.flush();
    } finally {
      await this.#pool.end();
    }
  }

  async countEndpoints(tenant?: string): Promise<number> {
    const { rows } = await this.#pool.query<{ count: number }>('SELECT count(*)::int AS count FROM inventory_endpoints WHERE $1::text IS NULL OR tenant = $1', [tenant ?? null]);
    return rows[0]!.count;
  }

  async endpointCounts(staleBefore: Date, tenant?: string): Promise<{ total: number; stale: number }> {
    const { rows } = await this.#pool.query<{ total: number; stale: number }>(
      'SELECT count(*)::int AS total, count(*) FILTER (WHERE last_seen < $1)::int AS stale FROM inventory_endpoints WHERE $2::text IS NULL OR tenant = $2',
      [staleBefore, tenant ?? null],
    );
    return rows[0]!;
  }

  async listEndpoints(page: { offset: number; limit: number; tenant?: string }): Promise<EndpointRecord[]> {
    const { rows } = await this.#pool.query<{ key: string }>('SELECT key FROM inventory_endpoints WHERE $3::text IS NULL OR tenant = $3 ORDER BY last_seen DESC, key LIMIT $1 OFFSET $2', [page.limit, page.offset, page.tenant ?? null]);
    return this.#load(rows.map((row) => row.key));
  }

  async getEndpoint(key: string, tenant?: string): Promise<EndpointRecord | undefined> {
    const record = (await this.#load([key]))[0];
    return record && (tenant === undefined || (record.tenant ?? defaultTenantId) === tenant) ? record : undefined;
  }

  /** Whole endpoint records for `keys`, in that order. */
  async #load(keys: string[]): Promise<EndpointRecord[]> {
    if (keys.length === 0) return [];
    const [endpoints, products, versions] = await Promise.all([
      this.#pool.query<{ key: string; kind: EndpointRecord['kind']; id: string; tenant: string; hostname: string | null; ring: string | null; first_seen: Date; last_seen: Date }>('SELECT key, kind, id, tenant, hostname, ring, first_seen, last_seen FROM inventory_endpoints WHERE key = ANY($1)', [keys]),
      this.#pool.query<{ endpoint_key: string; product_key: string; product: string; version: string; platform: string | null; locale: string | null; channel: string | null; source: string; seen_at: Date }>(
        'SELECT endpoint_key, product_key, product, version, platform, locale, channel, source, seen_at FROM inventory_products WHERE endpoint_key = ANY($1)',
        [keys],
      ),
      this.#pool.query<{ endpoint_key: string; product_key: string; version: string; first_seen: Date }>(
        'SELECT endpoint_key, product_key, version, first_seen FROM inventory_versions WHERE endpoint_key = ANY($1) ORDER BY first_seen, version',
        [keys],
      ),
    ]);
    const records = new Map<string, EndpointRecord>();
    for (const row of endpoints.rows) records.set(row.key, { kind: row.kind, id: row.id, ...(row.tenant === defaultTenantId ? {} : { tenant: row.tenant }), ...(row.hostname === null ? {} : { hostname: row.hostname }), ...(row.ring === null ? {} : { ring: row.ring }), firstSeen: row.first_seen.toISOString(), lastSeen: row.last_seen.toISOString(), products: {} });
    for (const row of products.rows) {
      const record = records.get(row.endpoint_key);
      if (!record) continue;
      record.products[row.product_key] = {
        product: row.product,
        version: row.version,
        ...(row.platform ? { platform: row.platform } : {}),
        ...(row.locale ? { locale: row.locale } : {}),
        ...(row.channel ? { channel: row.channel } : {}),
        source: row.source,
        seenAt: row.seen_at.toISOString(),
        firstSeen: {},
      };
    }
    for (const row of versions.rows) {
      const product = records.get(row.endpoint_key)?.products[row.product_key];
      if (product) product.firstSeen[row.version] = row.first_seen.toISOString();
    }
    return keys.map((key) => records.get(key)).filter((record): record is EndpointRecord => record !== undefined);
  }

  /**
   * Exposure profiles in SQL: the numbered pairs travel as arrays, each active endpoint's
   * matching records fold into one sorted array, and endpoints are counted per array.
   */
  async versionProfiles(request: VersionProfileRequest): Promise<VersionProfile[]> {
    if (request.pairs.length === 0) return [];
    const { rows } = await this.#pool.query<{ ids: number[]; endpoints: number; sample: string[] | null }>(
      `WITH pairs AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS x (product, version, id)),
       exposed AS (
         SELECT p.endpoint_key, array_agg(DISTINCT x.id ORDER BY x.id) AS ids
         FROM inventory_products p
         JOIN pairs x ON x.product = p.product AND x.version = p.version
         JOIN inventory_endpoints e ON e.key = p.endpoint_key
         WHERE e.last_seen >= $4 AND ($5::text IS NULL OR e.tenant = $5)
         GROUP BY p.endpoint_key)
       SELECT ids, count(*)::int AS endpoints, (array_agg(endpoint_key ORDER BY endpoint_key COLLATE "C"))[1:$6] AS sample FROM exposed GROUP BY ids`,
      [request.pairs.map((pair) => pair.product), request.pairs.map((pair) => pair.version), request.pairs.map((pair) => pair.id), request.staleBefore, request.tenant ?? null, request.sampleLimit],
    );
    return rows.map((row) => ({ ids: row.ids, endpoints: row.endpoints, sample: row.sample ?? [] }));
  }

  async versionsByProduct(tenant?: string): Promise<Map<string, Set<string>>> {
    const { rows } = await this.#pool.query<{ product: string; version: string }>(
      tenant === undefined
        ? 'SELECT product, version FROM inventory_products GROUP BY 1, 2 UNION SELECT product, version FROM inventory_versions GROUP BY 1, 2'
        : `SELECT p.product, p.version FROM inventory_products p JOIN inventory_endpoints e ON e.key = p.endpoint_key WHERE e.tenant = $1 GROUP BY 1, 2
           UNION SELECT v.product, v.version FROM inventory_versions v JOIN inventory_endpoints e ON e.key = v.endpoint_key WHERE e.tenant = $1 GROUP BY 1, 2`,
      tenant === undefined ? [] : [tenant],
    );
    const versions = new Map<string, Set<string>>();
    for (const { product, version } of rows) {
      let set = versions.get(product);
      if (!set) versions.set(product, (set = new Set()));
      set.add(version);
    }
    return versions;
  }

  /**
   * The counting of coverage in SQL, in one snapshot: the ranks travel as arrays into a
   * temporary table, every active record is joined to its rank once, and the aggregates
   * (segments, histogram, the k-th earliest endpoint per release) run next to the data.
   * The records of one endpoint and product (its builds) are numbered in one sort, the
   * least-ranked first: that one alone decides the endpoint figures. Only the endpoints
   * behind the newest version come back row by row.
   */
  async tally(request: TallyRequest): Promise<Map<string, ProductTally>> {
    const answer = new Map<string, ProductTally>();
    if (request.products.length === 0) return answer;
    // Each version's level: the newest release it counts for (a version runs that release and every older one).
    const levelOf = (product: TallyRequest['products'][number], rank: number) => {
      const index = product.releaseRanks.findIndex((releaseRank) => releaseRank <= rank);
      return index === -1 ? null : index;
    };
    const rankRows = request.products.flatMap((product) => [...product.ranks].map(([version, rank]) => [product.product, version, rank, levelOf(product, rank)] as const));
    const releaseRows = request.products.flatMap((product) => product.releaseRanks.map((_, index) => [product.product, index] as const));
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      // Sorting and hashing a prefecture's records fits in memory with this, instead of spilling to disk.
      await client.query("SET LOCAL work_mem = '64MB'");
      await client.query('CREATE TEMPORARY TABLE tally_ranks (product text, version text, rank int, level int, PRIMARY KEY (product, version)) ON COMMIT DROP');
      await client.query('INSERT INTO tally_ranks SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])', columns(rankRows, 4));
      await client.query(
        `CREATE TEMPORARY TABLE tally_records ON COMMIT DROP AS
         SELECT row_number() OVER () AS record, w.number AS product_number, p.endpoint_key, p.product_key, p.product, p.version, p.platform, p.channel, e.last_seen, e.last_seen < $3 AS stale, r.rank, w.newest_rank,
                (r.rank IS NOT NULL AND w.newest_rank IS NOT NULL AND r.rank >= w.newest_rank) AS is_current,
                -- One endpoint running one product (all its builds): a number, how many builds, and each build's place,
                -- least-ranked first (unranked first, ties by product key in code point order, as the in-memory store).
                -- The three windows share one sort.
                dense_rank() OVER (ORDER BY w.number, p.endpoint_key) AS pair,
                count(*) OVER (PARTITION BY w.number, p.endpoint_key)::int AS builds,
                row_number() OVER (PARTITION BY w.number, p.endpoint_key ORDER BY r.rank ASC NULLS FIRST, p.product_key COLLATE "C") AS build
         FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS w (product, newest_rank, number)
         JOIN inventory_products p ON p.product = w.product
         JOIN inventory_endpoints e ON e.key = p.endpoint_key AND ($4::text IS NULL OR e.tenant = $4)
         LEFT JOIN tally_ranks r ON r.product = p.product AND r.version = p.version`,
        [request.products.map((product) => product.product), request.products.map((product) => product.newestRank ?? null), request.staleBefore, request.tenant ?? null],
      );
      // The planner needs the real row count of the temporary table to choose hash joins over nested loops.
      await client.query('ANALYZE tally_records');
      // Endpoints: the least-ranked build of each is current only when all its builds are.
      const population = await client.query<{ product: string; endpoints: number; current: number }>(
        `SELECT product, count(*)::int AS endpoints, count(*) FILTER (WHERE is_current)::int AS current
         FROM tally_records WHERE NOT stale AND build = 1 GROUP BY 1`,
      );
      // Builds: every record counts in its segment and in the histogram.
      const segments = await client.query<{ product: string; platform: string | null; channel: string | null; endpoints: number; current: number }>(
        `SELECT product, platform, channel, count(*)::int AS endpoints, count(*) FILTER (WHERE is_current)::int AS current
         FROM tally_records WHERE NOT stale GROUP BY 1, 2, 3`,
      );
      const stale = await client.query<{ product: string; endpoints: number }>('SELECT product, count(DISTINCT endpoint_key)::int AS endpoints FROM tally_records WHERE stale GROUP BY 1');
      const histogram = await client.query<{ product: string; version: string; count: number }>('SELECT product, version, count(*)::int AS count FROM tally_records WHERE NOT stale GROUP BY 1, 2');
      // The most behind first, in the order the in-memory store uses: days behind (computed per rank
      // from the version schemes), then the endpoint key by code point (COLLATE "C", whatever the database's locale).
      const dayRows = request.products.flatMap((product) => [
        [product.product, null, product.daysBehind.unranked] as const,
        ...[...product.daysBehind.byRank].map(([rank, days]) => [product.product, rank, days] as const),
      ]);
      const behind = await client.query<{ product: string; endpoint_key: string; version: string; rank: number | null; platform: string | null; channel: string | null; last_seen: Date; total: number }>(
        `WITH days AS (SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) AS d (product, rank, days)),
         behind AS (
           SELECT r.product, r.endpoint_key, r.version, r.rank, r.platform, r.channel, r.last_seen,
                  row_number() OVER (PARTITION BY r.product ORDER BY coalesce(d.days, 0) DESC, r.endpoint_key COLLATE "C") AS position,
                  count(*) OVER (PARTITION BY r.product)::int AS total
           FROM tally_records r LEFT JOIN days d ON d.product = r.product AND d.rank IS NOT DISTINCT FROM r.rank
           WHERE NOT r.stale AND r.build = 1 AND r.newest_rank IS NOT NULL AND NOT r.is_current)
         SELECT product, endpoint_key, version, rank, platform, channel, last_seen, total FROM behind WHERE position <= $4 ORDER BY product, position`,
        [...columns(dayRows, 3), request.behindLimit],
      );
      // Per release: each active record's earliest first-seen time of that release or anything newer; each
      // endpoint's latest of those, when every one of its builds has one; then the first, the ⌈50 %⌉-th and
      // the ⌈90 %⌉-th of those times, counted against the endpoint population.
      // The text keys are joined once (per level); the expansion to releases runs on integers.
      const reached = await client.query<{ product: string; index: number; count: number; first_at: Date | null; p50_at: Date | null; p90_at: Date | null }>(
        `WITH releases AS (SELECT * FROM unnest($1::text[], $2::int[]) AS x (product, index)),
         population AS (SELECT product, min(product_number) AS product_number, count(*)::int AS n FROM tally_records WHERE NOT stale AND build = 1 GROUP BY 1),
         per_level AS (
           SELECT a.product_number, a.pair, a.builds, a.record, r.level, min(v.first_seen) AS at
           FROM tally_records a
           JOIN inventory_versions v ON v.endpoint_key = a.endpoint_key AND v.product_key = a.product_key
           JOIN tally_ranks r ON r.product = a.product AND r.version = v.version
           WHERE NOT a.stale AND r.level IS NOT NULL
           GROUP BY 1, 2, 3, 4, 5),
         per_build AS (
           SELECT l.product_number, rel.index, l.pair, l.builds, l.record, min(l.at) AS at
           FROM per_level l
           JOIN population p ON p.product_number = l.product_number
           JOIN releases rel ON rel.product = p.product AND rel.index >= l.level
           GROUP BY 1, 2, 3, 4, 5),
         earliest AS (
           SELECT product_number, index, max(at) AS at
           FROM per_build
           GROUP BY product_number, index, pair, builds
           HAVING count(*) = builds)
         SELECT p.product, e.index, count(*)::int AS count, min(e.at) AS first_at,
                (array_agg(e.at ORDER BY e.at))[(50 * p.n + 99) / 100] AS p50_at,
                (array_agg(e.at ORDER BY e.at))[(90 * p.n + 99) / 100] AS p90_at
         FROM earliest e JOIN population p ON p.product_number = e.product_number
         GROUP BY p.product, e.index, p.n`,
        columns(releaseRows, 2),
      );
      await client.query('COMMIT');

      for (const product of request.products) {
        answer.set(product.product, {
          population: 0, staleEndpoints: 0, current: 0, histogram: new Map(), segments: [], behindCount: 0, behind: [],
          reached: product.releaseRanks.map(() => ({ count: 0, firstAt: null, p50At: null, p90At: null })),
        });
      }
      for (const row of population.rows) Object.assign(answer.get(row.product)!, { population: row.endpoints, current: row.current });
      for (const row of segments.rows) {
        const tally = answer.get(row.product)!;
        tally.segments.push({ platform: row.platform, channel: row.channel, endpoints: row.endpoints, current: row.current });
      }
      for (const row of stale.rows) answer.get(row.product)!.staleEndpoints = row.endpoints;
      for (const row of histogram.rows) answer.get(row.product)!.histogram.set(row.version, row.count);
      for (const row of behind.rows) {
        answer.get(row.product)!.behindCount = row.total;
        answer.get(row.product)!.behind.push({ endpoint: row.endpoint_key, version: row.version, rank: row.rank ?? undefined, platform: row.platform, channel: row.channel, lastSeen: row.last_seen.toISOString() });
      }
      for (const row of reached.rows) {
        answer.get(row.product)!.reached[row.index] = { count: row.count, firstAt: row.first_at?.toISOString() ?? null, p50At: row.p50_at?.toISOString() ?? null, p90At: row.p90_at?.toISOString() ?? null };
      }
      return answer;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new DatabaseError(this.#name, 'counting coverage', error);
    } finally {
      client.release();
    }
  }
}

/** Rows as one array per column, the shape `unnest($1::text[], …)` takes. */
function columns(rows: ReadonlyArray<readonly unknown[]>, width: number): unknown[][] {
  return Array.from({ length: width }, (_, column) => rows.map((row) => row[column]));
}

/** One chunk of a batch as three multi-row upserts and a trim of the version history. */
async function writeChunk(client: pg.PoolClient, keys: string[], batch: Record<string, EndpointRecord>): Promise<void> {
  const endpoints: unknown[][] = [];
  const products: unknown[][] = [];
  const versions: unknown[][] = [];
  // The bound per endpoint holds in the database, not only per batch (issue 13): a product
  // key the endpoint does not have yet is written only while it has fewer than the limit.
  // (Replicas writing the same endpoint at the same moment may each add up to the limit.)
  const stored = new Map<string, Set<string>>();
  const existing = await client.query<{ endpoint_key: string; product_key: string }>('SELECT endpoint_key, product_key FROM inventory_products WHERE endpoint_key = ANY($1::text[])', [keys]);
  for (const row of existing.rows) {
    const set = stored.get(row.endpoint_key) ?? new Set<string>();
    set.add(row.product_key);
    stored.set(row.endpoint_key, set);
  }
  for (const key of keys) {
    const record = batch[key]!;
    endpoints.push([key, record.kind, record.id, record.firstSeen, record.lastSeen, record.hostname ?? null, record.tenant ?? defaultTenantId, record.ring ?? null]);
    const known = stored.get(key) ?? new Set<string>();
    for (const productKey of Object.keys(record.products).sort()) {
      if (!known.has(productKey)) {
        if (known.size >= maxProductsPerEndpoint) continue;
        known.add(productKey);
      }
      const product = record.products[productKey]!;
      products.push([key, productKey, product.product, product.version, product.platform ?? null, product.locale ?? null, product.channel ?? null, product.source, product.seenAt]);
      for (const version of Object.keys(product.firstSeen).sort()) versions.push([key, productKey, product.product, version, product.firstSeen[version]]);
    }
  }
  await client.query(
    `INSERT INTO inventory_endpoints (key, kind, id, first_seen, last_seen, hostname, tenant, ring)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT (key) DO UPDATE SET first_seen = least(inventory_endpoints.first_seen, excluded.first_seen), last_seen = greatest(inventory_endpoints.last_seen, excluded.last_seen),
       hostname = CASE WHEN excluded.hostname IS NOT NULL AND excluded.last_seen >= inventory_endpoints.last_seen THEN excluded.hostname ELSE inventory_endpoints.hostname END,
       ring = CASE WHEN excluded.ring IS NOT NULL AND excluded.last_seen >= inventory_endpoints.last_seen THEN excluded.ring ELSE inventory_endpoints.ring END`,
    columns(endpoints, 8),
  );
  // A replica's late batch must not replace what another replica wrote since.
  await client.query(
    `INSERT INTO inventory_products (endpoint_key, product_key, product, version, platform, locale, channel, source, seen_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
     ON CONFLICT (endpoint_key, product_key) DO UPDATE SET product = excluded.product, version = excluded.version, platform = excluded.platform,
       locale = excluded.locale, channel = excluded.channel, source = excluded.source, seen_at = excluded.seen_at
     WHERE excluded.seen_at >= inventory_products.seen_at`,
    columns(products, 9),
  );
  await client.query(
    `INSERT INTO inventory_versions (endpoint_key, product_key, product, version, first_seen)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
     ON CONFLICT (endpoint_key, product_key, version) DO UPDATE SET first_seen = least(inventory_versions.first_seen, excluded.first_seen)`,
    columns(versions, 5),
  );
  const touched = products.map((row) => [row[0], row[1]] as const);
  await client.query(
    `DELETE FROM inventory_versions v USING (
       SELECT endpoint_key, product_key, version,
              row_number() OVER (PARTITION BY endpoint_key, product_key ORDER BY first_seen DESC, version DESC) AS position
       FROM inventory_versions
       WHERE (endpoint_key, product_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))) old
     WHERE old.position > $3 AND v.endpoint_key = old.endpoint_key AND v.product_key = old.product_key AND v.version = old.version`,
    [...columns(touched, 2), historyLength],
  );
}
