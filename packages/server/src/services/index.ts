// The services layer: the domain logic between the HTTP layer and the store. Every export is named here.
//
// Wiring order (what `startServer` does):
//   const cache = await AccessSnapshotCache.open(store);          // the engine's model, per store revision
//   const authorizer = new ServiceAuthorizer(cache, store);        // THE authorization function
//   const sessions = new SessionTokenIssuer({ keyring });
//   const hasher = new SecretHasher(await loadPepper(store, keyring));
//   const resolver = new PrincipalResolver({ store, cache, keyring, sessions, hasher, oidc });
//   const iam = new IamService({ store, keyring });
//   const sts = new StsService({ store, cache, authorizer, sessions, oidc });
//   const first = await bootstrap({ store, keyring });            // undefined after the first start
// On shutdown: await authorizer.flush(); await resolver.flushUsage(); await cache.close().

/** The access model cache: builds the engine's model from the store and keeps it at the newest revision. */
export {
  type AccessSnapshotCacheOptions,
  AccessSnapshotCache,
  type AccessView,
  boundaryPolicyId,
  builtInRoleDefinitions,
  inlinePolicyId,
  resourcePolicyId,
  SESSION_REVOCATION_PREFIX,
  type SnapshotProblem,
  trustPolicyId,
} from './access-snapshot-cache.js';
/** The one authorization function every route calls; decisions get ids, are kept for explain and audited. */
export {
  type AuthorizeInput,
  type AuthorizeResult,
  type RecordedDecision,
  ServiceAuthorizer,
  type ServiceAuthorizerOptions,
} from './authorizer.js';
/** First-start bootstrap (pepper, AdministratorAccess, user admin and its key) and the pepper loader. */
export {
  ADMINISTRATOR_POLICY,
  BOOTSTRAP_ADMIN_USER,
  BOOTSTRAP_SETTING,
  type BootstrapOptions,
  type BootstrapResult,
  bootstrap,
  loadPepper,
  PEPPER_SETTING,
} from './bootstrap.js';
/** Users, groups, roles, identities, policies, access keys, role and deny assignments, trusted issuers. */
export {
  type AccessKeyMetadata,
  accessKeySecretContext,
  type CreatedAccessKey,
  IamService,
  type IamServiceOptions,
  identityNameFor,
  revokeSessionsIn,
} from './iam-service.js';
/** Policy documents validated for their use before they are stored. */
export { checkPolicyDocument, type PolicyDocumentInput } from './policy-documents.js';
/** From a verified credential (access key, session token, bearer key, JWT) to the principal. */
export {
  type BearerResolution,
  PrincipalResolver,
  type PrincipalResolverOptions,
  type ResolvedPrincipal,
  type ResolvedPrincipalType,
  type SessionContext,
} from './principal-resolver.js';
/** STS: AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity, managed-identity credentials. */
export {
  type AssumeRoleRequest,
  type AssumeRoleResult,
  type AssumeRoleWithWebIdentityRequest,
  type CallerIdentity,
  issuerHost,
  StsService,
  type StsServiceOptions,
} from './sts-service.js';
/** S3 buckets: create/delete (only when empty), head, list, tags, bucket policies (validated, stored as resource policies). */
export { BucketService, type BucketServiceOptions, checkS3Tags } from './bucket-service.js';
/** S3 object metadata around the object backend: commit after durable blob, list v1/v2/versions, multipart. */
export {
  type DeleteObjectsResult,
  decodeContinuationToken,
  encodeContinuationToken,
  type ListObjectsV1Result,
  type ListObjectsV2Result,
  type ListObjectVersionsResult,
  MAX_OBJECT_TAGS,
  MAX_USER_METADATA_BYTES,
  type ObjectAttributes,
  ObjectService,
  type ObjectServiceOptions,
} from './object-service.js';
/** The model registry: workspaces, models, versions, endpoints, deployments; resolveEndpoint for the gateway. */
export {
  MlRegistryService,
  type MlRegistryServiceOptions,
  type ResolvedDeployment,
  type ResolvedEndpoint,
} from './ml-registry-service.js';
/** Endpoint keys: primary/secondary `aiam_ek_` keys, shown once, stored hashed, rotated one slot at a time. */
export {
  type EndpointKeyInfo,
  type EndpointKeyPrincipal,
  EndpointKeyService,
  type EndpointKeyServiceOptions,
  type EndpointKeySlot,
} from './endpoint-key-service.js';
/** Domains and user profiles: profile sessions (execution role, source identity, networks) and console links. */
export {
  DomainService,
  type DomainServiceOptions,
  isSourceAllowed,
  networkSessionPolicy,
  type PresignedDomainUrl,
  type ProfileSession,
  type VerifiedDomainLink,
} from './domain-service.js';
/** Master-key rotation over the store: re-encrypt every stored secret, retire old keys. */
export {
  countCiphertextsNotUnder,
  ENCRYPTED_RECORD_KINDS,
  encryptionContext,
  type ReencryptionCounts,
  type ReencryptStoreOptions,
  type RotateStoreMasterKeyOptions,
  reencryptStore,
  retireOldMasterKeys,
  rotateStoreMasterKey,
  type StoreMasterKeyRotation,
  type StoreReencryptionReport,
} from './master-key-rotation.js';
