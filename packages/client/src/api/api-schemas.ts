import { z } from 'zod';

// The client checks every answer against these schemas (STYLE: validate at both edges). They
// mirror the server's response schemas; api-operations.test.ts checks them against openapi.json.

const Timestamp = z.number().int();

/** A policy-validation finding (IAM Access Analyzer ValidatePolicy shape). */
export const FindingSchema = z.object({
  findingType: z.string(),
  issueCode: z.string(),
  findingDetails: z.string(),
  path: z.array(z.union([z.object({ value: z.string() }), z.object({ index: z.number().int() })])),
});
/** A policy-validation finding. */
export type PolicyFinding = z.infer<typeof FindingSchema>;
const Findings = z.array(FindingSchema).optional();
const TagMap = z.record(z.string(), z.string());

/** A user. */
export const UserSchema = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  tags: TagMap,
  status: z.enum(['active', 'disabled']),
  source: z.string(),
  externalId: z.string().nullable(),
  permissionsBoundaryArn: z.string().nullable(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/** A user. */
export type User = z.infer<typeof UserSchema>;

/** A group. */
export const GroupSchema = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  externalId: z.string().nullable(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/** A group. */
export type Group = z.infer<typeof GroupSchema>;

/** A role. */
export const RoleSchema = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  trustPolicy: z.string(),
  maxSessionDuration: z.number().int(),
  description: z.string(),
  tags: TagMap,
  permissionsBoundaryArn: z.string().nullable(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  findings: Findings,
});
/** A role. */
export type Role = z.infer<typeof RoleSchema>;

/** A managed identity. */
export const IdentitySchema = z.object({
  id: z.string(),
  name: z.string(),
  arn: z.string(),
  kind: z.enum(['system', 'user']),
  ownerArn: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  tags: TagMap,
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/** A managed identity. */
export type ManagedIdentity = z.infer<typeof IdentitySchema>;

/** A managed policy. */
export const PolicySchema = z.object({
  id: z.string(),
  name: z.string(),
  path: z.string(),
  arn: z.string(),
  description: z.string(),
  defaultVersionId: z.string(),
  tags: TagMap,
  attachmentCount: z.number().int(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  findings: Findings,
});
/** A managed policy. */
export type ManagedPolicy = z.infer<typeof PolicySchema>;

/** A version of a managed policy. */
export const PolicyVersionSchema = z.object({
  policyArn: z.string(),
  versionId: z.string(),
  document: z.string(),
  isDefault: z.boolean(),
  createdAt: Timestamp,
  findings: Findings,
});
/** A version of a managed policy. */
export type PolicyVersion = z.infer<typeof PolicyVersionSchema>;

/** An inline policy. */
export const InlinePolicySchema = z.object({
  principalArn: z.string(),
  name: z.string(),
  document: z.string(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  findings: Findings,
});
/** An inline policy. */
export type InlinePolicy = z.infer<typeof InlinePolicySchema>;

/** A managed-policy attachment. */
export const AttachmentSchema = z.object({
  principalArn: z.string(),
  policyArn: z.string(),
  createdAt: Timestamp,
});
/** A managed-policy attachment. */
export type PolicyAttachment = z.infer<typeof AttachmentSchema>;

/** An access key's metadata (never the secret). */
export const AccessKeySchema = z.object({
  accessKeyId: z.string(),
  userName: z.string(),
  userArn: z.string(),
  status: z.enum(['Active', 'Inactive']),
  version: z.number().int(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
  lastUsedService: z.string().nullable(),
});
/** An access key's metadata. */
export type AccessKey = z.infer<typeof AccessKeySchema>;

/** A new access key with its secret, shown once. */
export const CreatedAccessKeySchema = z.object({ accessKey: AccessKeySchema, secretAccessKey: z.string() });
/** A new access key with its secret, shown once. */
export type CreatedAccessKey = z.infer<typeof CreatedAccessKeySchema>;

const PermissionsSchema = z.object({
  actions: z.array(z.string()),
  notActions: z.array(z.string()),
  dataActions: z.array(z.string()),
  notDataActions: z.array(z.string()),
});

/** A role definition. */
export const RoleDefinitionSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  permissions: PermissionsSchema,
  assignableScopes: z.array(z.string()),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/** A role definition. */
export type RoleDefinition = z.infer<typeof RoleDefinitionSchema>;

/** A role assignment. */
export const RoleAssignmentSchema = z.object({
  id: z.string(),
  principalArn: z.string(),
  roleDefinitionId: z.string(),
  roleDefinitionName: z.string(),
  scope: z.string(),
  condition: z.string().nullable(),
  createdAt: Timestamp,
});
/** A role assignment. */
export type RoleAssignment = z.infer<typeof RoleAssignmentSchema>;

/** A deny assignment. */
export const DenyAssignmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.string(),
  principalArns: z.array(z.string()),
  excludedPrincipalArns: z.array(z.string()),
  permissions: PermissionsSchema,
  createdAt: Timestamp,
});
/** A deny assignment. */
export type DenyAssignment = z.infer<typeof DenyAssignmentSchema>;

/** A trusted OIDC issuer. */
export const IssuerSchema = z.object({
  issuer: z.string(),
  audiences: z.array(z.string()),
  jwks: z.string().nullable(),
  jwksUri: z.string().nullable(),
  subjectMapping: z.unknown(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/** A trusted OIDC issuer. */
export type TrustedIssuer = z.infer<typeof IssuerSchema>;

/** An audit record. */
export const AuditRecordSchema = z.object({
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
/** An audit record. */
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/** A decision with the engine's trace (explain, simulate). */
export const DecisionSchema = z.object({
  decisionId: z.string().optional(),
  time: Timestamp.optional(),
  principal: z.string(),
  action: z.string(),
  resource: z.string(),
  decision: z.enum(['allowed', 'explicitDeny', 'implicitDeny']),
  reason: z.string().optional(),
  matched: z.array(z.looseObject({})),
  missingContextValues: z.array(z.string()),
  explanation: z.string(),
});
/** A decision with the engine's trace. */
export type DecisionTrace = z.infer<typeof DecisionSchema>;

/** Tags of an entity. */
export const TagsSchema = z.object({ tags: TagMap });

/** A page of a list. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().optional() });
}
/** A page of a list. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** The error body of every non-2xx answer. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    decisionId: z.string().optional(),
  }),
});
