/**
 * The row types of every table, as Kysely sees them. Both engines store the same columns:
 * timestamps are integer milliseconds since the epoch, JSON is TEXT (policy documents are kept
 * verbatim, as AWS returns them), ciphertexts are BLOB/bytea, flags are timestamps or status
 * strings (no booleans, which the two engines spell differently).
 */
export interface DatabaseSchema {
  aiam_meta: { id: number; revision: number };
  aiam_migrations: { name: string; applied_at: number };
  settings: { key: string; value: string; version: number; updated_at: number };
  users: {
    id: string;
    name: string;
    name_key: string;
    path: string;
    arn: string;
    tags: string;
    status: string;
    source: string;
    external_id: string | null;
    permissions_boundary_arn: string | null;
    version: number;
    created_at: number;
    updated_at: number;
  };
  groups: {
    id: string;
    name: string;
    name_key: string;
    path: string;
    arn: string;
    external_id: string | null;
    version: number;
    created_at: number;
    updated_at: number;
  };
  group_members: { group_id: string; user_id: string; created_at: number };
  roles: {
    id: string;
    name: string;
    name_key: string;
    path: string;
    arn: string;
    trust_policy: string;
    max_session_duration: number;
    description: string;
    tags: string;
    permissions_boundary_arn: string | null;
    version: number;
    created_at: number;
    updated_at: number;
  };
  managed_identities: {
    id: string;
    name: string;
    name_key: string;
    arn: string;
    kind: string;
    owner_arn: string | null;
    status: string;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  policies: {
    id: string;
    name: string;
    name_key: string;
    path: string;
    arn: string;
    description: string;
    default_version_id: string;
    next_version: number;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  policy_versions: { policy_id: string; version_id: string; document: string; created_at: number };
  inline_policies: {
    principal_arn: string;
    name: string;
    document: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  policy_attachments: { principal_arn: string; policy_arn: string; created_at: number };
  access_keys: {
    access_key_id: string;
    user_id: string;
    status: string;
    secret_ciphertext: Uint8Array;
    version: number;
    created_at: number;
    last_used_at: number | null;
    last_used_service: string | null;
  };
  sessions: {
    access_key_id: string;
    secret_ciphertext: Uint8Array;
    session_token_hash: string;
    principal_arn: string;
    role_arn: string | null;
    role_session_name: string | null;
    source_identity: string | null;
    session_policy: string | null;
    session_tags: string;
    created_at: number;
    expires_at: number;
    revoked_at: number | null;
  };
  bearer_keys: {
    id: string;
    hash: string;
    owner_arn: string;
    purpose: string;
    status: string;
    version: number;
    created_at: number;
  };
  signing_keys: {
    kid: string;
    alg: string;
    private_jwk_ciphertext: Uint8Array;
    public_jwk: string;
    created_at: number;
    not_after: number | null;
    retired_at: number | null;
  };
  trusted_issuers: {
    issuer: string;
    audiences: string;
    jwks: string | null;
    jwks_uri: string | null;
    subject_mapping: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  role_definitions: {
    id: string;
    name: string;
    name_key: string;
    description: string;
    permissions: string;
    assignable_scopes: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  role_assignments: {
    id: string;
    principal_arn: string;
    role_definition_id: string;
    scope: string;
    condition: string | null;
    created_at: number;
  };
  deny_assignments: {
    id: string;
    name: string;
    scope: string;
    principal_arns: string;
    excluded_principal_arns: string;
    permissions: string;
    created_at: number;
  };
  resource_policies: {
    resource_arn: string;
    document: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  audit_records: {
    id: string;
    time: number;
    request_id: string | null;
    principal: string | null;
    action: string | null;
    resource: string | null;
    decision: string | null;
    matched_statements: string | null;
    source_ip: string | null;
    user_agent: string | null;
    error_code: string | null;
    extra: string | null;
  };
  buckets: {
    name: string;
    owner_arn: string;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  objects: {
    bucket: string;
    key: string;
    blob_id: string;
    size: number;
    etag: string;
    content_type: string | null;
    content_headers: string;
    user_metadata: string;
    checksums: string;
    tags: string;
    owner_arn: string | null;
    last_modified: number;
  };
  multipart_uploads: {
    upload_id: string;
    bucket: string;
    key: string;
    initiator_arn: string | null;
    content_type: string | null;
    content_headers: string;
    user_metadata: string;
    tags: string;
    checksum_algorithm: string | null;
    initiated_at: number;
  };
  multipart_parts: {
    upload_id: string;
    part_number: number;
    part_id: string | null;
    size: number;
    etag: string;
    checksums: string;
    last_modified: number;
  };
  ml_workspaces: {
    id: string;
    name: string;
    name_key: string;
    arn: string;
    description: string;
    tags: string;
    identity: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  ml_models: {
    id: string;
    workspace_id: string;
    name: string;
    name_key: string;
    arn: string;
    description: string;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  ml_model_versions: {
    model_id: string;
    label: string;
    arn: string;
    artifact_location: string | null;
    metadata: string;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  ml_endpoints: {
    id: string;
    workspace_id: string;
    name: string;
    name_key: string;
    arn: string;
    description: string;
    auth_mode: string;
    api: string;
    limits: string;
    identity: string;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  ml_deployments: {
    endpoint_id: string;
    name: string;
    arn: string;
    upstream_url: string;
    model_ref: string | null;
    model_version_arn: string | null;
    traffic_weight: number;
    health_probe_path: string | null;
    version: number;
    created_at: number;
    updated_at: number;
  };
  ml_domains: {
    id: string;
    name: string;
    name_key: string;
    arn: string;
    auth_mode: string;
    default_user_settings: string;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  ml_user_profiles: {
    domain_id: string;
    name: string;
    name_key: string;
    arn: string;
    execution_role_arn: string | null;
    tags: string;
    version: number;
    created_at: number;
    updated_at: number;
  };
  scim_group_mappings: {
    id: string;
    group_name: string;
    group_name_key: string;
    role_definition: string;
    scope: string;
    created_at: number;
  };
  scim_resources: {
    resource_type: string;
    id: string;
    principal_id: string;
    name: string;
    name_key: string;
    external_id: string | null;
    document: string;
    version: number;
    seq: number;
    created_at: number;
    updated_at: number;
  };
}
