// The public surface of @aiam/policy: the pure policy engine. Every export is named here.
export { AiamError, isAiamError } from './errors.js';
export {
  type Finding,
  type FindingType,
  type PathElement,
  formatFindingPath,
  PolicyValidationError,
} from './finding.js';
export {
  type Arn,
  formatArn,
  iamArn,
  InvalidResourceNameError,
  managedIdentityArn,
  mlArn,
  parseArn,
  resolveResourcePath,
  s3Arn,
  scopeContains,
} from './resource-name.js';
export {
  type AuthorizationRequest,
  type ContextScalar,
  type ContextValue,
  createRequestContext,
  getContextValue,
  type RequestContext,
  type RequestPrincipal,
} from './request-context.js';
export type { Decision, DenyReason, EvalDecision, MatchedStatement, PolicyKind } from './decision.js';
