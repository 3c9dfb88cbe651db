import { type ContextValue, explainDecision, type RequestContext, type RequestPrincipal } from '@aiam/policy';
import { z } from 'zod';
import { InputError, NotFoundError } from '../errors.js';
import type { AuthenticatedPrincipal } from '../http/authenticator.js';
import { buildRequestContext } from '../http/request-context-builder.js';
import type { AccessView } from '../services/access-snapshot-cache.js';
import type { RecordedDecision } from '../services/authorizer.js';
import type { ApiContext } from './api-context.js';
import { type ApiRoute, apiRoute, pageQuery, rawString } from './api-route.js';
import { AuditRecordOut, DecisionOut, NoQuery, pageOf } from './api-schemas.js';

const TimeParam = z
  .string()
  .min(1)
  .transform((value, ctx) => {
    const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not an ISO 8601 time or epoch milliseconds` });
      return z.NEVER;
    }
    return ms;
  })
  .describe('ISO 8601 time (2026-01-31T12:00:00Z) or milliseconds since the epoch.');

const ContextValueIn = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);

/**
 * Resolves a principal written as a path (`user/alice`, `role/r`, `managed-identity/x`, a
 * resource with a system-assigned identity) or an ARN to the ARN the store knows.
 */
function principalArnOf(ctx: ApiContext, ref: string): string {
  if (ref.startsWith('arn:')) return ref;
  const path = ref.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const root = slash < 0 ? path : path.slice(0, slash);
  const name = slash < 0 ? '' : path.slice(slash + 1);
  if (root === 'user' || root === 'role' || root === 'group') return ctx.arnOf(root, name);
  if (root === 'managed-identity') return ctx.identityArn(name);
  // A resource path stands for its system-assigned identity.
  return ctx.identityArn(path);
}

/** The principal and its request-context facts as the credential resolver would build them. */
function simulatedCaller(view: AccessView, arn: string): AuthenticatedPrincipal {
  const user = view.usersByArn.get(arn);
  if (user) {
    const principal: RequestPrincipal = {
      arn,
      account: view.accountId,
      groupArns: view.groupsOfUser.get(arn) ?? [],
    };
    return { principal, type: 'User', userName: user.name, userId: user.id, tags: user.tags };
  }
  const role = view.rolesByArn.get(arn);
  if (role) {
    return {
      principal: { arn, account: view.accountId },
      type: 'AssumedRole',
      userId: `${role.id}:simulation`,
      tags: role.tags,
    };
  }
  const identity = view.identitiesByArn.get(arn);
  if (identity) {
    return {
      principal: { arn, account: view.accountId },
      type: 'ManagedIdentity',
      userId: identity.id,
      tags: identity.tags,
    };
  }
  throw new NotFoundError(
    `principal ${arn} does not exist (or is a group: simulate one of its members instead)`,
  );
}

/** A decision by id (recent or from the audit trail); undefined for an id that cannot be one. */
async function recallDecision(
  ctx: ApiContext,
  id: string | undefined,
): Promise<RecordedDecision | undefined> {
  if (id === undefined || id.length === 0 || id.length > 128) return undefined;
  return ctx.app.serviceAuthorizer.recall(id);
}

/** The audit trail, decision explanations and the policy simulator. */
export function auditRoutes(ctx: ApiContext): ApiRoute[] {
  const { app } = ctx;
  return [
    apiRoute({
      operationId: 'queryAudit',
      method: 'GET',
      path: '/audit',
      tag: 'audit',
      summary: 'Audit records, newest first, filtered by time, principal, action and decision.',
      action: 'aiam:ListAuditEvents',
      paginated: true,
      query: z.strictObject({
        from: TimeParam.optional(),
        to: TimeParam.optional(),
        principal: z.string().max(2048).optional(),
        action: z.string().max(256).optional(),
        decision: z.enum(['allowed', 'explicitDeny', 'implicitDeny', 'unauthenticated']).optional(),
        ...pageQuery,
      }),
      response: pageOf(AuditRecordOut),
      resource: () => ctx.auditLogArn(),
      handle: async ({ query }) => {
        const page = await app.store.queryAudit({
          ...query,
          ...(query.limit === undefined ? { limit: 100 } : {}),
        } as Parameters<typeof app.store.queryAudit>[0]);
        return {
          body: { items: page.records, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) },
        };
      },
    }),
    apiRoute({
      operationId: 'explainDecision',
      method: 'GET',
      path: '/decisions/{id}',
      tag: 'audit',
      summary:
        "A decision with the engine's trace, recent or from the audit trail (after a restart, or made on another node). Authorized on the decision's own resource: only those who may explain decisions about that resource see it.",
      action: 'aiam:ExplainDecision',
      params: z.strictObject({ id: z.string().min(1).max(128) }),
      query: NoQuery,
      response: DecisionOut,
      // An unknown id is authorized on the audit log: only those who may explain any decision
      // learn that it does not exist.
      resource: async ({ params }) => (await recallDecision(ctx, params.id))?.resource ?? ctx.auditLogArn(),
      handle: async ({ params }) => {
        const recorded = await recallDecision(ctx, params.id);
        if (!recorded) {
          throw new NotFoundError(
            `no authorization decision has id ${params.id}; decision ids are in 403 bodies and the audit trail (aiam audit)`,
          );
        }
        return {
          body: {
            decisionId: recorded.decisionId,
            time: recorded.time,
            principal: recorded.principal,
            action: recorded.action,
            resource: recorded.resource,
            decision: recorded.decision.decision,
            ...(recorded.decision.reason ? { reason: recorded.decision.reason } : {}),
            matched: recorded.decision.matched as unknown as Record<string, unknown>[],
            missingContextValues: recorded.decision.missingContextValues,
            explanation: recorded.explanation,
          },
        };
      },
    }),
    apiRoute({
      operationId: 'simulate',
      method: 'POST',
      path: '/simulate',
      tag: 'audit',
      summary:
        'Decide a request for a principal against the live access model, without acting (as AWS SimulatePrincipalPolicy). Used by `aiam simulate` and `aiam whocan`.',
      action: 'iam:SimulatePrincipalPolicy',
      body: z.strictObject({
        principal: z.string().min(1).max(2048).describe('user/alice, role/r, managed-identity/x, or an ARN'),
        action: z
          .string()
          .regex(/^[a-z0-9-]+:[A-Za-z0-9*?]+$/, 'an action is service:Name, e.g. s3:GetObject'),
        resource: z.string().min(1).max(2048),
        context: z.record(z.string().min(1).max(256), ContextValueIn).optional(),
      }),
      response: DecisionOut,
      resource: ({ body }) => principalArnOf(ctx, rawString(body, 'principal') ?? ''),
      handle: async ({ body, req }) => {
        const view = await app.accessModel.view();
        const arn = principalArnOf(ctx, body.principal);
        const caller = simulatedCaller(view, arn);
        const base = buildRequestContext(
          {
            sourceIp: req.sourceIp,
            secureTransport: req.secureTransport,
            receivedAt: req.receivedAt,
            userAgent: undefined,
            referer: undefined,
          },
          caller,
        );
        const context = new Map<string, ContextValue>(base);
        for (const [k, v] of Object.entries(body.context ?? {})) context.set(k.toLowerCase(), v);
        if (body.action.includes('*') || body.action.includes('?'))
          throw new InputError('simulate one action at a time; wildcards are for policies');
        const decision = view.model.authorize({
          principal: caller.principal,
          action: body.action,
          resource: body.resource,
          context: context as RequestContext,
        });
        return {
          body: {
            principal: arn,
            action: body.action,
            resource: body.resource,
            decision: decision.decision,
            ...(decision.reason ? { reason: decision.reason } : {}),
            matched: decision.matched as unknown as Record<string, unknown>[],
            missingContextValues: decision.missingContextValues,
            explanation: explainDecision(decision),
          },
        };
      },
    }),
  ];
}
