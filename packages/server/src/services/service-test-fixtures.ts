import { createRequestContext, type RequestContext } from '@aiam/policy';
import type { Clock } from '../clock.js';
import { generateMasterKey, Keyring } from '../identity/keyring.js';
import { SecretHasher } from '../identity/secret-hash.js';
import { SessionTokenIssuer } from '../identity/session-token.js';
import type { Store } from '../store/store.js';
import { type TestDatabase, testDatabases } from '../store/store-test-databases.js';
import { AccessSnapshotCache } from './access-snapshot-cache.js';
import { ServiceAuthorizer } from './authorizer.js';
import { IamService } from './iam-service.js';
import { PrincipalResolver } from './principal-resolver.js';
import { StsService } from './sts-service.js';

/** Everything the services tests need, wired on a fresh store. */
export interface TestServices {
  readonly store: Store;
  readonly db: TestDatabase;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly cache: AccessSnapshotCache;
  readonly authorizer: ServiceAuthorizer;
  readonly sessions: SessionTokenIssuer;
  readonly hasher: SecretHasher;
  readonly resolver: PrincipalResolver;
  readonly iam: IamService;
  readonly sts: StsService;
  close(): Promise<void>;
}

/** A clock that never returns the same instant twice (revocation compares instants). */
export function tickingClock(): Clock {
  let last = 0;
  return { now: () => (last = Math.max(Date.now(), last + 1)) };
}

/** Opens the services on a fresh store of the given engine (default SQLite, on a temp file). */
export async function openTestServices(engine: 'sqlite' | 'postgres' = 'sqlite'): Promise<TestServices> {
  const db = testDatabases().find((d) => d.id === engine)!;
  const clock = tickingClock();
  const store = await db.open({ clock });
  const keyring = new Keyring(generateMasterKey());
  const cache = await AccessSnapshotCache.open(store);
  const authorizer = new ServiceAuthorizer(cache, store, { clock, auditFlushMs: 10 });
  const sessions = new SessionTokenIssuer({ keyring, clock });
  const hasher = new SecretHasher({ id: 'p1', key: new Uint8Array(32).fill(7) });
  const resolver = new PrincipalResolver({ store, cache, keyring, sessions, hasher, clock });
  const iam = new IamService({ store, keyring, clock });
  const sts = new StsService({ store, cache, authorizer, sessions, clock });
  return {
    store,
    db,
    keyring,
    clock,
    cache,
    authorizer,
    sessions,
    hasher,
    resolver,
    iam,
    sts,
    async close() {
      await authorizer.flush();
      await resolver.flushUsage();
      await cache.close();
      await db.cleanup();
    },
  };
}

/** A minimal request context, as the HTTP layer would build it. */
export function testContext(extra: Record<string, string> = {}): RequestContext {
  return createRequestContext({
    'aws:SourceIp': '10.0.0.1',
    'aws:CurrentTime': new Date().toISOString(),
    ...extra,
  });
}

/** An identity policy document allowing `actions` on `resources`. */
export function allow(actions: string | string[], resources: string | string[] = '*'): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: resources }],
  });
}
