import { iamArn, managedIdentityArn } from '@aiam/policy';
import type { AppContext } from '../app/start-server.js';
import type { AccessView } from '../services/access-snapshot-cache.js';
import { IamService } from '../services/iam-service.js';

/** What the control-plane route modules share: the IAM service and ARN naming. */
export interface ApiContext {
  readonly app: AppContext;
  readonly iam: IamService;
  readonly accountId: () => string;
  /**
   * The ARN of an existing user, group, role or policy by name, with its IAM path when the
   * access model knows the entity (`/` otherwise, the name a new entity would get).
   */
  arnOf(kind: 'user' | 'group' | 'role' | 'policy', name: string): string;
  /** The ARN of a managed identity by name. */
  identityArn(name: string): string;
  /** The ARN of the audit trail. */
  auditLogArn(): string;
}

type Indexed = Record<'user' | 'group' | 'role' | 'policy', Map<string, string>>;

/** Builds the {@link ApiContext} of a running server. */
export function createApiContext(app: AppContext): ApiContext {
  const iam = new IamService({ store: app.store, keyring: app.keyring, clock: app.clock });
  const indexes = new WeakMap<AccessView, Indexed>();
  const index = (view: AccessView): Indexed => {
    let idx = indexes.get(view);
    if (!idx) {
      const byName = (values: Iterable<{ name: string; arn: string }>) =>
        new Map([...values].map((v) => [v.name, v.arn] as const));
      idx = {
        user: byName(view.usersByArn.values()),
        group: byName(view.groupsByArn.values()),
        role: byName(view.rolesByArn.values()),
        policy: byName(view.policiesByArn.values()),
      };
      indexes.set(view, idx);
    }
    return idx;
  };
  const accountId = () => app.store.accountId;
  return {
    app,
    iam,
    accountId,
    arnOf(kind, name) {
      const view = app.accessModel.latest;
      // The resource function is synchronous: the latest built model is good enough to find
      // an entity's path (paths change rarely; a stale one names the entity's old ARN, which
      // a policy on the path would have governed a moment ago).
      return (view && index(view)[kind].get(name)) ?? iamArn(accountId(), kind, name);
    },
    identityArn: (name) => managedIdentityArn(accountId(), name),
    auditLogArn: () => `arn:aws:aiam::${accountId()}:audit-log`,
  };
}
