// The credential cryptography of aiam: every public export of the identity folder, named.
export {
  type AccessKeyKind,
  accessKeyKind,
  ENDPOINT_KEY_PREFIX,
  generateAccessKeyId,
  generateBearerKey,
  generateSecretAccessKey,
  isAccessKeyId,
  isBearerKey,
  type RandomSource,
  secureRandom,
} from './credential-ids.js';
export {
  type ExternalIdentity,
  ExternalTokenVerifier,
  type JwksFetch,
  type TrustedIssuer,
} from './external-token-verifier.js';
export {
  isSigV4Error,
  KeyringError,
  type KeyringErrorCode,
  SigV4Error,
  type SigV4ErrorCode,
  TokenError,
  type TokenErrorCode,
} from './identity-errors.js';
export {
  addMasterKey,
  generateMasterKey,
  Keyring,
  type LoadedKeyring,
  loadKeyring,
  MASTER_KEY_FILE,
  type MasterKey,
  masterKeyId,
  parseMasterKey,
  type ReencryptAccess,
  type RotationReport,
  retireMasterKey,
  rotateMasterKey,
} from './keyring.js';
export {
  type IssuedToken,
  OidcSigningKeys,
  type OidcSigningKeysOptions,
  type SigningKeyRecord,
  tokenErrorFrom,
} from './oidc-signing-keys.js';
export { type Pepper, SecretHasher } from './secret-hash.js';
export {
  MAX_SESSION_SECONDS,
  MIN_SESSION_SECONDS,
  type SessionClaims,
  type SessionTokenOptions,
  SessionTokenIssuer,
  type TemporaryCredentials,
} from './session-token.js';
export {
  buildCanonicalRequest,
  buildStringToSign,
  type CanonicalRequestParts,
  type CanonicalUriOptions,
  canonicalHeaderValue,
  canonicalQueryString,
  canonicalUri,
  normalizePath,
  parseQuery,
  percentDecode,
  type QueryParameter,
  type SigV4Headers,
  sha256Hex,
  uriEncode,
  uriEncodeBytes,
} from './sigv4-canonical-request.js';
export {
  type ChunkChainSeed,
  ChunkSignatureChain,
  type ChunkSigningContext,
  chunkSigners,
  canonicalTrailer,
  chunkStringToSign,
  EMPTY_SHA256,
  trailerStringToSign,
} from './sigv4-chunk-signature.js';
export { deriveSigningKey, SigningKeyCache, secretFingerprint } from './sigv4-signing-key-cache.js';
export {
  type SigV4Credential,
  type SigV4PayloadMode,
  type SigV4Request,
  type SigV4SecretLookup,
  type SigV4Verified,
  SigV4Verifier,
  type SigV4VerifierOptions,
} from './sigv4-verifier.js';
