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
  AuthorizationRequestError,
  type ContextScalar,
  type ContextValue,
  createRequestContext,
  getContextValue,
  type RequestContext,
  type RequestPrincipal,
  type RequestPrincipalType,
  reconcileResourceAccount,
} from './request-context.js';
export type { Decision, DenyReason, EvalDecision, MatchedStatement, PolicyKind } from './decision.js';
// Policy engine core: documents, parsing, matching, compilation and evaluation.
export {
  type ParsedPolicy,
  PRINCIPAL_TYPES,
  type PolicyCondition,
  type PolicyPrincipal,
  type PolicyStatement,
  type PolicyVersion,
  type PrincipalType,
  policyToJson,
  serializePolicy,
} from './policy-document.js';
export {
  type ParsePolicyOptions,
  type ParsePolicyResult,
  parsePolicy,
  parsePolicyOrThrow,
} from './parse-policy.js';
export {
  compileWildcard,
  referenceWildcardMatch,
  type WildcardOptions,
  type WildcardPattern,
  wildcardMatch,
} from './wildcard-match.js';
export {
  mayHaveVariables,
  type PolicyTemplate,
  parsePolicyTemplate,
  type ResolvedTemplate,
  readVariable,
  resolveTemplate,
  type TemplateError,
  type TemplatePart,
} from './policy-variables.js';
export {
  CONDITION_OPERATOR_NAMES,
  type ConditionComparison,
  type ConditionFamily,
  type ConditionOperator,
  checkConditionValue,
  parseConditionDate,
  parseConditionNumber,
  parseConditionOperator,
} from './condition-operators.js';
export {
  type CompiledCondition,
  ConditionResult,
  compileCondition,
  type EvaluationScratch,
} from './condition-evaluate.js';
export { type CidrBlock, cidrContains, type IpAddressValue, parseCidr, parseIpAddress } from './ip-cidr.js';
export {
  type CompiledPolicy,
  type CompiledStatement,
  type CompilePolicyOptions,
  compileActionList,
  compilePolicy,
  StatementMatch,
} from './compile-policy.js';
export { DecisionBuilder, evaluatePolicies, type PolicySet } from './evaluate-policies.js';
export {
  type CompiledRoleDefinition,
  compileDenyAssignment,
  compileRoleAssignment,
  compileRoleDefinition,
  DEFAULT_DATA_ACTIONS,
  type DataActionPredicate,
  type DenyAssignment,
  defaultIsDataAction,
  InvalidRoleAssignmentError,
  type RoleAssignment,
  type RoleAssignmentOptions,
  type RoleDefinition,
} from './role-assignment.js';
// Validation, the action catalog and SimulateCustomPolicy.
export {
  type AccessLevel,
  type ActionDefinition,
  type ActionPlane,
  actionSupportsConditionKey,
  type Catalog,
  type ConditionKeyDefinition,
  type ConditionKeyType,
  catalog,
  findAction,
  findBuiltInRole,
  findConditionKey,
  findService,
  isDataAction,
  isUnsupportedGlobalConditionKey,
  listActions,
  matchActions,
  type ResourceTypeDefinition,
  type RoleDefinitionTemplate,
  type ServiceDefinition,
} from './catalog/catalog.js';
export {
  type JsonSource,
  JsonSyntaxError,
  parseJsonSource,
  type SourcePosition,
  type SourceSpan,
} from './json-source.js';
export {
  type ContextEntry,
  type ContextKeyType,
  type EvaluationResult,
  type InvalidPolicyInput,
  InvalidSimulationRequestError,
  type Position,
  readSimulateCustomPolicyRequest,
  type SimulateCustomPolicyRequest,
  type SimulateCustomPolicyResponse,
  type SimulateCustomPolicyResult,
  type SimulationStatement,
  simulateCustomPolicy,
} from './simulate-custom-policy.js';
export {
  type ValidatePolicyOptions,
  type ValidatePolicyType,
  VALIDATION_CHECKS,
  validatePolicy,
} from './validate-policy.js';
export {
  AccessModel,
  AccessModelError,
  type AccessModelGroup,
  type AccessModelInput,
  type AccessModelPrincipal,
  type AuthorizeOptions,
  type ResourcePolicyAttachment,
} from './access-model.js';
export { describeMatchedStatement, explainDecision } from './explain-decision.js';
