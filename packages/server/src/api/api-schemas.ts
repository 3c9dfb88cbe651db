import { z } from 'zod';

// Request schemas are strict (an unknown field is a 400 naming it: a typo such as "tag" for
// "tags" must not be silently ignored). Response schemas are plain objects, which strip any
// field they do not declare, so an internal field (an encrypted secret) can never leak.

/** Milliseconds since the epoch. */
export const Timestamp = z.number().int().describe('Milliseconds since the Unix epoch.');

/** An IAM name: AWS allows letters, digits and `+=,.@_-`, up to 64 (128 for roles/policies). */
export const Name = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w+=,.@-]+$/, 'use letters, digits and + = , . @ _ - only');

/** An IAM path: `/` or `/a/b/`. */
export const IamPath = z
  .string()
  .max(512)
  .regex(/^\/(?:[\x21-\x7e]+\/)?$/, 'a path starts and ends with "/", e.g. /engineering/');

/** Tags: up to 50 key/value pairs, as AWS IAM. */
export const Tags = z
  .record(z.string().min(1).max(128), z.string().max(256))
  .refine((t) => Object.keys(t).length <= 50, 'at most 50 tags');

/** A policy document: the JSON object, or its text. */
export const PolicyDocument = z
  .union([z.string().min(2).max(131072), z.record(z.string(), z.unknown())])
  .describe('An IAM JSON policy document, as an object or as its JSON text.');

/** A policy-validation finding returned with a write. */
export const FindingOut = z.object({
  findingType: z.string(),
  issueCode: z.string(),
  findingDetails: z.string(),
  path: z.array(z.union([z.object({ value: z.string() }), z.object({ index: z.number().int() })])),
});

const Findings = z
  .array(FindingOut)
  .optional()
  .describe('Validation warnings and suggestions of the document just written (ERROR findings refuse it).');

/** An ARN. */
export const ArnString = z.string().min(1).max(2048);

/** Path parameter `{name}`. */
export const NameParams = z.strictObject({ name: Name });

/** No query parameters allowed. */
export const NoQuery = z.strictObject({});

/** A user. */
export const UserOut = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  tags: z.record(z.string(), z.string()),
  status: z.enum(['active', 'disabled']),
  source: z.string(),
  externalId: z.string().nullable(),
  permissionsBoundaryArn: z.string().nullable(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** A group. */
export const GroupOut = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  externalId: z.string().nullable(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** A role. */
export const RoleOut = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  trustPolicy: z.string(),
  maxSessionDuration: z.number().int(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  permissionsBoundaryArn: z.string().nullable(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  findings: Findings,
});

/** A managed identity. */
export const IdentityOut = z.object({
  id: z.string(),
  name: z.string(),
  arn: z.string(),
  kind: z.enum(['system', 'user']),
  ownerArn: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** A managed policy. */
export const PolicyOut = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  description: z.string(),
  defaultVersionId: z.string(),
  tags: z.record(z.string(), z.string()),
  attachmentCount: z.number().int(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  findings: Findings,
});

/** A policy version. */
export const PolicyVersionOut = z.object({
  policyArn: z.string(),
  versionId: z.string(),
  document: z.string(),
  isDefault: z.boolean(),
  createdAt: Timestamp,
  findings: Findings,
});

/** An inline policy. */
export const InlinePolicyOut = z.object({
  principalArn: z.string(),
  name: z.string(),
  document: z.string(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  findings: Findings,
});

/** A managed-policy attachment. */
export const AttachmentOut = z.object({
  principalArn: z.string(),
  policyArn: z.string(),
  createdAt: Timestamp,
});

/** An access key as listed: never its secret. */
export const AccessKeyOut = z.object({
  accessKeyId: z.string(),
  userName: z.string(),
  userArn: z.string(),
  status: z.enum(['Active', 'Inactive']),
  version: z.number().int(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
  lastUsedService: z.string().nullable(),
});

/** A new access key: the only answer that carries the secret. */
export const CreatedAccessKeyOut = z.object({
  accessKey: AccessKeyOut,
  secretAccessKey: z.string().describe('Shown once; aiam keeps it only encrypted and never shows it again.'),
});

/** Role permissions (Azure-style). */
export const Permissions = z.strictObject({
  actions: z.array(z.string()).max(200).optional(),
  notActions: z.array(z.string()).max(200).optional(),
  dataActions: z.array(z.string()).max(200).optional(),
  notDataActions: z.array(z.string()).max(200).optional(),
});

const PermissionsOut = z.object({
  actions: z.array(z.string()),
  notActions: z.array(z.string()),
  dataActions: z.array(z.string()),
  notDataActions: z.array(z.string()),
});

/** A role definition. */
export const RoleDefinitionOut = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  permissions: PermissionsOut,
  assignableScopes: z.array(z.string()),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** A role assignment. */
export const RoleAssignmentOut = z.object({
  id: z.string(),
  principalArn: z.string(),
  roleDefinitionId: z.string(),
  roleDefinitionName: z.string(),
  scope: z.string(),
  condition: z.string().nullable(),
  createdAt: Timestamp,
});

/** A deny assignment. */
export const DenyAssignmentOut = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.string(),
  principalArns: z.array(z.string()),
  excludedPrincipalArns: z.array(z.string()),
  permissions: PermissionsOut,
  createdAt: Timestamp,
});

/** A trusted OIDC issuer. */
export const IssuerOut = z.object({
  issuer: z.string(),
  audiences: z.array(z.string()),
  jwks: z.string().nullable(),
  jwksUri: z.string().nullable(),
  subjectMapping: z.unknown(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** An audit record. */
export const AuditRecordOut = z.object({
  id: z.string(),
  time: Timestamp,
  requestId: z.string().nullable(),
  principal: z.string().nullable(),
  action: z.string().nullable(),
  resource: z.string().nullable(),
  decision: z.string().nullable(),
  matchedStatements: z.unknown(),
  sourceIp: z.string().nullable(),
  userAgent: z.string().nullable(),
  errorCode: z.string().nullable(),
  extra: z.unknown(),
});

/** A matched statement of a decision. */
export const MatchedStatementOut = z.looseObject({});

/** A decision with its trace (explain and simulate). */
export const DecisionOut = z.object({
  decisionId: z.string().optional(),
  time: Timestamp.optional(),
  principal: z.string(),
  action: z.string(),
  resource: z.string(),
  decision: z.enum(['allowed', 'explicitDeny', 'implicitDeny']),
  reason: z.string().optional(),
  matched: z.array(MatchedStatementOut),
  missingContextValues: z.array(z.string()),
  explanation: z.string(),
});

/** A page of a list: `items` and, when more follow, `nextCursor`. */
export function pageOf<T extends z.ZodType>(item: T) {
  const page = z.object({ items: z.array(item), nextCursor: z.string().optional() });
  PAGE_ITEMS.set(page, item);
  return page;
}

/** The item schema of each page schema (the OpenAPI document refers to named components). */
export const PAGE_ITEMS = new WeakMap<z.ZodType, z.ZodType>();

/** Response schemas published as named components of the OpenAPI document. */
export const NAMED_SCHEMAS: ReadonlyMap<z.ZodType, string> = new Map<z.ZodType, string>([
  [UserOut, 'User'],
  [GroupOut, 'Group'],
  [RoleOut, 'Role'],
  [IdentityOut, 'ManagedIdentity'],
  [PolicyOut, 'ManagedPolicy'],
  [PolicyVersionOut, 'PolicyVersion'],
  [InlinePolicyOut, 'InlinePolicy'],
  [AttachmentOut, 'PolicyAttachment'],
  [AccessKeyOut, 'AccessKey'],
  [CreatedAccessKeyOut, 'CreatedAccessKey'],
  [RoleDefinitionOut, 'RoleDefinition'],
  [RoleAssignmentOut, 'RoleAssignment'],
  [DenyAssignmentOut, 'DenyAssignment'],
  [IssuerOut, 'TrustedIssuer'],
  [AuditRecordOut, 'AuditRecord'],
  [DecisionOut, 'Decision'],
]);
