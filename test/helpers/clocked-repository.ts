import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import type { AdminStore } from '../../src/admin/admin-store.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createRepositoryApp } from '../../src/repository/app.ts';
import type { LgwanSide } from '../../src/sides/lgwan.ts';

/**
 * A second repository app over an opened LGWAN side, listening on 127.0.0.1, whose clock
 * (`createRepositoryApp`'s `now`) the test sets: maintenance windows open and close, deadlines
 * pass, without touching the system clock. `store` may be another admin store (a replica
 * sharing PostgreSQL); `decisionCacheMs` how long it reuses a tenant's decisions.
 */
export async function clockedRepository(t: ExecutionContext, lgwan: LgwanSide, options: { at: number; store?: AdminStore; decisionCacheMs?: number; trustProxy?: boolean }) {
  let clock = options.at;
  const app = createRepositoryApp({
    database: lgwan.database,
    store: lgwan.store,
    logger: silentLogger,
    inventory: lgwan.inventory,
    console: { store: options.store ?? lgwan.admin, tenants: lgwan.tenants },
    trustProxy: options.trustProxy ?? false,
    now: () => new Date(clock),
    decisionCacheMs: options.decisionCacheMs ?? 0,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Sets the app's clock (ms since the epoch). */
    setClock(at: number) {
      clock = at;
    },
  };
}
