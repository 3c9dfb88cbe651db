/** The column types that the two engines spell differently. */
export interface DialectTypes {
  /** A 64-bit integer (SQLite INTEGER, PostgreSQL bigint). */
  int8: string;
  /** Opaque bytes (SQLite BLOB, PostgreSQL bytea). */
  blob: string;
  /**
   * Text compared byte by byte, i.e. by Unicode code point (SQLite's default BINARY collation,
   * PostgreSQL `collate "C"`): S3 lists keys in UTF-8 binary order, whatever the locale.
   */
  binaryText: string;
}

/** One schema change, applied once, in order, inside the migration transaction. */
export interface Migration {
  /** Sortable and never renamed: it is recorded in `aiam_migrations`. */
  name: string;
  statements(types: DialectTypes): string[];
}

/**
 * Every migration of the store, oldest first. Append only: a released migration is never
 * edited, a new one corrects it. Both engines run the same statements, so portable SQL only.
 */
export const migrations: readonly Migration[] = [
  {
    name: '0001_initial',
    statements: ({ int8, blob }) => [
      `create table aiam_meta (id integer primary key, revision ${int8} not null)`,
      `insert into aiam_meta (id, revision) values (1, 0)`,
      `create table settings (key text primary key, value text not null, version integer not null,
        updated_at ${int8} not null)`,
      `create table users (id text primary key, name text not null, name_key text not null unique,
        path text not null, arn text not null unique, tags text not null, status text not null,
        source text not null, external_id text unique, permissions_boundary_arn text,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table groups (id text primary key, name text not null, name_key text not null unique,
        path text not null, arn text not null unique, external_id text unique, version integer not null,
        created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table group_members (
        group_id text not null references groups (id) on delete cascade,
        user_id text not null references users (id) on delete cascade,
        created_at ${int8} not null, primary key (group_id, user_id))`,
      `create index group_members_user on group_members (user_id)`,
      `create table roles (id text primary key, name text not null, name_key text not null unique,
        path text not null, arn text not null unique, trust_policy text not null,
        max_session_duration integer not null, description text not null, tags text not null,
        permissions_boundary_arn text, version integer not null, created_at ${int8} not null,
        updated_at ${int8} not null)`,
      `create table managed_identities (id text primary key, name text not null,
        name_key text not null unique, arn text not null unique, kind text not null, owner_arn text unique,
        status text not null, tags text not null, version integer not null, created_at ${int8} not null,
        updated_at ${int8} not null)`,
      `create table policies (id text primary key, name text not null, name_key text not null unique,
        path text not null, arn text not null unique, description text not null,
        default_version_id text not null, next_version integer not null, tags text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table policy_versions (
        policy_id text not null references policies (id) on delete cascade,
        version_id text not null, document text not null, created_at ${int8} not null,
        primary key (policy_id, version_id))`,
      `create table inline_policies (principal_arn text not null, name text not null, document text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null,
        primary key (principal_arn, name))`,
      `create table policy_attachments (principal_arn text not null, policy_arn text not null,
        created_at ${int8} not null, primary key (principal_arn, policy_arn))`,
      `create index policy_attachments_policy on policy_attachments (policy_arn)`,
      `create table access_keys (access_key_id text primary key,
        user_id text not null references users (id), status text not null,
        secret_ciphertext ${blob} not null, version integer not null, created_at ${int8} not null,
        last_used_at ${int8}, last_used_service text)`,
      `create index access_keys_user on access_keys (user_id)`,
      `create table sessions (access_key_id text primary key, secret_ciphertext ${blob} not null,
        session_token_hash text not null, principal_arn text not null, role_arn text,
        role_session_name text, source_identity text, session_policy text, session_tags text not null,
        created_at ${int8} not null, expires_at ${int8} not null, revoked_at ${int8})`,
      `create index sessions_principal on sessions (principal_arn)`,
      `create index sessions_role on sessions (role_arn)`,
      `create index sessions_expiry on sessions (expires_at)`,
      `create table bearer_keys (id text primary key, hash text not null unique, owner_arn text not null,
        purpose text not null, status text not null, version integer not null, created_at ${int8} not null)`,
      `create index bearer_keys_owner on bearer_keys (owner_arn)`,
      `create table signing_keys (kid text primary key, alg text not null,
        private_jwk_ciphertext ${blob} not null, public_jwk text not null, created_at ${int8} not null,
        not_after ${int8}, retired_at ${int8})`,
      `create table trusted_issuers (issuer text primary key, audiences text not null, jwks text,
        jwks_uri text, subject_mapping text not null, version integer not null,
        created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table role_definitions (id text primary key, name text not null, name_key text not null unique,
        description text not null, permissions text not null, assignable_scopes text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table role_assignments (id text primary key, principal_arn text not null,
        role_definition_id text not null references role_definitions (id), scope text not null,
        condition text, created_at ${int8} not null)`,
      `create unique index role_assignments_unique on role_assignments (principal_arn, role_definition_id, scope)`,
      `create index role_assignments_scope on role_assignments (scope)`,
      `create table deny_assignments (id text primary key, name text not null, scope text not null,
        principal_arns text not null, excluded_principal_arns text not null, permissions text not null,
        created_at ${int8} not null)`,
      `create table resource_policies (resource_arn text primary key, document text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table audit_records (id text primary key, time ${int8} not null, request_id text,
        principal text, action text, resource text, decision text, matched_statements text,
        source_ip text, user_agent text, error_code text, extra text)`,
      `create index audit_time on audit_records (time, id)`,
      `create index audit_principal on audit_records (principal, time)`,
      `create index audit_action on audit_records (action, time)`,
    ],
  },
  {
    name: '0002_data_plane_and_ml_registry',
    statements: ({ int8, binaryText: bt }) => [
      `create table buckets (name ${bt} primary key, owner_arn text not null, tags text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      // The primary key (bucket, key) is the listing index: prefix, start-after, continuation
      // and delimiter skips are all range seeks on it.
      `create table objects (bucket ${bt} not null references buckets (name), key ${bt} not null,
        blob_id text not null, size ${int8} not null, etag text not null, content_type text,
        content_headers text not null, user_metadata text not null, checksums text not null,
        tags text not null, owner_arn text, last_modified ${int8} not null, primary key (bucket, key))`,
      `create table multipart_uploads (upload_id text primary key,
        bucket ${bt} not null references buckets (name), key ${bt} not null, initiator_arn text,
        content_type text, content_headers text not null, user_metadata text not null, tags text not null,
        checksum_algorithm text, initiated_at ${int8} not null)`,
      `create index multipart_uploads_key on multipart_uploads (bucket, key, upload_id)`,
      `create index multipart_uploads_initiated on multipart_uploads (initiated_at)`,
      `create table multipart_parts (
        upload_id text not null references multipart_uploads (upload_id) on delete cascade,
        part_number integer not null, part_id text, size ${int8} not null, etag text not null,
        checksums text not null, last_modified ${int8} not null, primary key (upload_id, part_number))`,
      `create table ml_workspaces (id text primary key, name text not null, name_key text not null unique,
        arn text not null unique, description text not null, tags text not null, identity text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      `create table ml_models (id text primary key,
        workspace_id text not null references ml_workspaces (id), name text not null,
        name_key text not null, arn text not null unique, description text not null, tags text not null,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null)`,
      `create unique index ml_models_name on ml_models (workspace_id, name_key)`,
      `create table ml_model_versions (model_id text not null references ml_models (id),
        label text not null, arn text not null unique, artifact_location text, metadata text not null,
        tags text not null, version integer not null, created_at ${int8} not null,
        updated_at ${int8} not null, primary key (model_id, label))`,
      `create table ml_endpoints (id text primary key,
        workspace_id text not null references ml_workspaces (id), name text not null,
        name_key text not null unique, arn text not null unique, description text not null,
        auth_mode text not null, api text not null, limits text not null, identity text not null,
        tags text not null, version integer not null, created_at ${int8} not null,
        updated_at ${int8} not null)`,
      `create index ml_endpoints_workspace on ml_endpoints (workspace_id)`,
      `create table ml_deployments (endpoint_id text not null references ml_endpoints (id) on delete cascade,
        name text not null, arn text not null unique, upstream_url text not null, model_ref text,
        model_version_arn text, traffic_weight integer not null, health_probe_path text,
        version integer not null, created_at ${int8} not null, updated_at ${int8} not null,
        primary key (endpoint_id, name))`,
      `create index ml_deployments_model_version on ml_deployments (model_version_arn)`,
      `create table ml_domains (id text primary key, name text not null, name_key text not null unique,
        arn text not null unique, auth_mode text not null, default_user_settings text not null,
        tags text not null, version integer not null, created_at ${int8} not null,
        updated_at ${int8} not null)`,
      `create table ml_user_profiles (domain_id text not null references ml_domains (id),
        name text not null, name_key text not null, arn text not null unique,
        execution_role_arn text, tags text not null, version integer not null,
        created_at ${int8} not null, updated_at ${int8} not null, primary key (domain_id, name_key))`,
      `create table scim_group_mappings (id text primary key, group_name text not null,
        group_name_key text not null, role_definition text not null, scope text not null,
        created_at ${int8} not null)`,
      `create unique index scim_group_mappings_unique on scim_group_mappings
        (group_name_key, role_definition, scope)`,
    ],
  },
  {
    // SCIM documents of provisioned users and groups, bound to their aiam principals (issue 6).
    name: '0003_scim_resources',
    statements: ({ int8 }) => [
      `create table scim_resources (resource_type text not null, id text not null,
        principal_id text not null unique, name text not null, name_key text not null,
        external_id text, document text not null, version integer not null, seq ${int8} not null,
        created_at ${int8} not null, updated_at ${int8} not null, primary key (resource_type, id))`,
      `create unique index scim_resources_name on scim_resources (resource_type, name_key)`,
      `create unique index scim_resources_external_id on scim_resources (resource_type, external_id)`,
      `create unique index scim_resources_seq on scim_resources (seq)`,
    ],
  },
];
