import type { IncomingMessage } from 'node:http';

/**
 * First path segments that belong to aiam's other surfaces (control plane, SCIM, workload
 * credentials, OIDC, the gateway, domain console links, health and metrics). They can never be bucket names on
 * this server: path-style `/api/...` must reach the control plane, not a bucket `api`.
 */
export const RESERVED_BUCKET_NAMES: ReadonlySet<string> = new Set([
  'api',
  'scim',
  'workload',
  'oauth2',
  'endpoints',
  'healthz',
  'readyz',
  'metrics',
  '.well-known',
  // Presigned domain console links (/console/domains/{domain}/login).
  'console',
]);

function firstSegment(path: string): string {
  const rest = path.slice(1);
  const slash = rest.indexOf('/');
  return slash >= 0 ? rest.slice(0, slash) : rest;
}

/** True for the STS Query API at `/` (POST form body, or `?Action=` in the query). */
function isStsRequest(method: string, path: string, query: string): boolean {
  if (path !== '/') return false;
  // S3 has no POST on the service root: every POST / is the STS Query API.
  if (method === 'POST') return true;
  return /(?:^|&)Action=/.test(query);
}

/**
 * Decides whether the S3 surface serves a request: everything not owned by another surface.
 * Virtual-host style requests (`Host: BUCKET.<base>`) are always S3. A request whose first path
 * segment is a reserved name goes to its own surface, except a bare `PUT /NAME` (CreateBucket
 * of a reserved name), which S3 claims to refuse with InvalidBucketName.
 */
export function isS3Request(req: IncomingMessage, virtualHostBases: readonly string[]): boolean {
  const url = req.url ?? '/';
  const method = (req.method ?? 'GET').toUpperCase();
  if (virtualHostBases.length > 0) {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    for (const base of virtualHostBases) if (host.endsWith(`.${base}`)) return true;
  }
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q + 1) : '';
  if (!path.startsWith('/')) return false;
  if (isStsRequest(method, path, query)) return false;
  const segment = firstSegment(path);
  if (RESERVED_BUCKET_NAMES.has(segment)) {
    return method === 'PUT' && (path === `/${segment}` || path === `/${segment}/`) && query === '';
  }
  return true;
}
