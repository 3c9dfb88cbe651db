import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { API_PREFIX, describeIssues } from '../api/api-route.js';
import type { AppContext } from '../app/start-server.js';
import { ConflictError, InputError, NotAllowedError } from '../errors.js';
import { buildRequestContext } from '../http/request-context-builder.js';
import type { AuthorizedRequest, ProtectedRoute } from '../http/route-table.js';
import type { AuditEntry } from '../observability/audit-writer.js';
import { EndpointKeyService } from '../services/endpoint-key-service.js';
import {
  APPLIED_KINDS,
  type ConfigChange,
  ConfigApplier,
  type CreatedSecret,
  requiredPermissions,
} from './config-applier.js';
import { readConfigState } from './config-state.js';

/** Bodies of applies: a file with 10,000 users and their policies fits. */
const MAX_APPLY_BYTES = 64 * 1024 * 1024;
/** At most this many changes per apply (one transaction). */
const MAX_CHANGES = 200_000;

const ChangeSchema = z.strictObject({
  action: z.enum(['create', 'update', 'replace', 'delete']),
  kind: z.enum(APPLIED_KINDS),
  address: z.string().min(1).max(2048),
  names: z.array(z.string().min(1).max(1024)).min(1).max(3),
  value: z.record(z.string(), z.unknown()),
});

const ApplySchema = z.strictObject({
  baseRevision: z.number().int().min(0),
  changes: z.array(ChangeSchema).max(MAX_CHANGES),
});

/** What `POST /api/v1/config/apply` answers. */
export interface ApplyResult {
  readonly revision: number;
  readonly applied: number;
  /** New secrets, keyed by address; shown here once, never stored in clear. */
  readonly secrets: readonly CreatedSecret[];
}

const CONFIG_RESOURCE = '*';

/**
 * The access-as-code routes: `GET /api/v1/config/state` (the current state and its revision,
 * decided as `aiam:ExportConfiguration`) and `POST /api/v1/config/apply` (decided as
 * `aiam:ApplyConfiguration`, then every change as its own action: the caller needs
 * `iam:CreateUser` to create a user through a file as much as through the API). An apply is
 * one store transaction: it re-checks the revision the plan was made against (a stale plan is a
 * 409), applies every change or none, and returns once the access model includes it.
 */
export function configRoutes(app: AppContext): ProtectedRoute[] {
  const keys = new EndpointKeyService({ store: app.store, hasher: app.hasher });
  const getState: ProtectedRoute = {
    method: 'GET',
    path: `${API_PREFIX}/config/state`,
    auth: ['sigv4', 'bearer'],
    action: 'aiam:ExportConfiguration',
    name: 'getConfigState',
    resource: () => CONFIG_RESOURCE,
    handle: async () => {
      const state = await app.store.readTransaction((tx) => readConfigState(tx, app.store.accountId));
      return { status: 200, body: state };
    },
  };

  const authorizeAll = async (req: AuthorizedRequest, changes: readonly ConfigChange[]) => {
    const facts = {
      sourceIp: req.sourceIp,
      secureTransport: req.secureTransport,
      receivedAt: req.receivedAt,
      userAgent: req.headers['user-agent'],
      referer: req.headers.referer,
    };
    const seen = new Set<string>();
    // Each decision joins the audit trail like any other (the pipeline audits only the route's own).
    const records: AuditEntry[] = [];
    try {
      for (const change of changes) {
        for (const need of requiredPermissions(change, app.store.accountId)) {
          const key = `${need.action} ${need.resource} ${JSON.stringify(need.conditions ?? {})}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const context = buildRequestContext(facts, req.caller, need.conditions);
          const outcome = await app.authorizer.authorize(
            { principal: req.caller.principal, action: need.action, resource: need.resource, context },
            req.caller.sessionPolicies ? { sessionPolicies: req.caller.sessionPolicies } : undefined,
          );
          const allowed = outcome.decision.decision === 'allowed';
          const decisionId = outcome.decisionId ?? randomUUID();
          records.push({
            id: decisionId,
            time: req.receivedAt,
            requestId: req.requestId,
            principal: req.caller.principal.arn,
            action: need.action,
            resource: need.resource,
            decision: outcome.decision.decision,
            matchedStatements: outcome.decision.matched,
            sourceIp: req.sourceIp,
            userAgent: req.headers['user-agent'] ?? null,
            errorCode: allowed ? null : 'ERR_ACCESS_DENIED',
            extra: { via: 'aiam:ApplyConfiguration', change: `${change.action} ${change.address}` },
          });
          if (!allowed) {
            throw new NotAllowedError(
              `${req.caller.principal.arn} is not authorized to perform ${need.action} on ${need.resource} (needed by ${change.action} ${change.address}); nothing was applied`,
              { decisionId },
            );
          }
        }
      }
    } finally {
      for (let i = 0; i < records.length; i += 500) await app.store.appendAudit(records.slice(i, i + 500));
    }
  };

  const apply: ProtectedRoute = {
    method: 'POST',
    path: `${API_PREFIX}/config/apply`,
    auth: ['sigv4', 'bearer'],
    action: 'aiam:ApplyConfiguration',
    name: 'applyConfig',
    maxBodyBytes: MAX_APPLY_BYTES,
    resource: () => CONFIG_RESOURCE,
    handle: async (req) => {
      const parsed = ApplySchema.safeParse(req.json());
      if (!parsed.success) throw new InputError(`invalid body: ${describeIssues('body', parsed.error)}`);
      const { baseRevision, changes } = parsed.data as { baseRevision: number; changes: ConfigChange[] };
      // Every change is decided before anything is written: a refusal applies nothing.
      await authorizeAll(req, changes);
      const stale = () =>
        new ConflictError(
          `the server changed since plan (planned at revision ${baseRevision}); run plan again`,
          { code: 'ERR_STALE_PLAN' },
        );
      if (changes.length === 0) {
        if ((await app.store.getRevision()) !== baseRevision) throw stale();
        return { status: 200, body: { revision: baseRevision, applied: 0, secrets: [] } };
      }
      const applier = await app.store.transaction(async (tx) => {
        if ((await tx.getRevision()) !== baseRevision) throw stale();
        const a = new ConfigApplier(tx, {
          accountId: app.store.accountId,
          keyring: app.keyring,
          callerArn: req.caller.principal.arn,
        });
        for (const change of changes) {
          try {
            await a.apply(change);
          } catch (err) {
            if (err instanceof Error && !err.message.includes(change.address))
              err.message = `${change.action} ${change.address}: ${err.message}`;
            throw err;
          }
        }
        // On PostgreSQL (read committed) another writer may have committed meanwhile: look again
        // last thing before commit, so a plan is never applied over a change it did not see.
        if ((await tx.getRevision()) !== baseRevision) throw stale();
        return a;
      });
      const secrets = [...applier.secrets];
      // Endpoint keys are issued right after the commit (the key service owns their format);
      // only slots without a key get one, so a retry never rotates a key in use.
      for (const e of applier.keyedEndpoints) {
        const issued = await keys.ensureKeys(e.endpoint);
        if (Object.keys(issued).length)
          secrets.push({
            address: `${e.address}.keys`,
            path: ['workspaces', e.workspace, 'endpoints', e.endpoint, 'keys'],
            value: issued,
          });
      }
      // Read-your-writes: the next request is decided by a model that includes this apply.
      await app.accessModel.view();
      const result: ApplyResult = {
        revision: await app.store.getRevision(),
        applied: changes.length,
        secrets,
      };
      return { status: 200, headers: { 'cache-control': 'no-store' }, body: result };
    },
  };
  return [getState, apply];
}
