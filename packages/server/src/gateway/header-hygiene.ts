import type { IncomingMessage } from 'node:http';

/**
 * Hop-by-hop fields that a proxy must not forward, RFC 9110 §7.6.1 (Connection, and the
 * fields it names), plus the legacy ones the RFC lists as commonly used this way
 * (Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade) and Proxy-Authenticate /
 * Proxy-Authorization, which belong to the hop (RFC 9110 §11.7).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request fields that carry the caller's credentials for aiam (or for some cloud), or that a
 * caller could use to impersonate the gateway's own statements. They never reach a
 * deployment: the deployment learns who called from the gateway's signed caller statement.
 * Cookie is stripped too: a model server has no use for the caller's browser session with
 * aiam, and forwarding it would hand that session to whoever runs the deployment.
 */
const CREDENTIAL_FIELDS = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'cookie',
  'ocp-apim-subscription-key',
  'x-goog-api-key',
]);
const CREDENTIAL_PREFIXES = ['x-amz-', 'x-aiam-'];

/** Forwarding fields the gateway recomputes rather than trusting from the caller. */
const FORWARDING_FIELDS = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
]);

/** The header the gateway states the caller in (a short-lived JWT issued by aiam). */
export const CALLER_STATEMENT_HEADER = 'x-aiam-caller';
/** The header carrying the gateway's request id, to the upstream and back to the client. */
export const REQUEST_ID_HEADER = 'x-aiam-request-id';

/** Options for {@link buildUpstreamRequestHeaders}. */
export interface UpstreamHeaderOptions {
  /** True when the connection's peer is a proxy whose X-Forwarded-* fields may be believed. */
  readonly trustForwardedHeaders: boolean;
  /** The upstream's `host[:port]`, sent as Host. */
  readonly upstreamHost: string;
  /** The gateway's request id. */
  readonly requestId: string;
  /** The caller statement (JWT), if any. */
  readonly callerStatement?: string | undefined;
  /** Set when the body was buffered and is sent with a known length. */
  readonly contentLength?: number | undefined;
}

/** The names listed in Connection fields; they are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(raw: readonly string[]): Set<string> {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'connection') continue;
    for (const token of (raw[i + 1] as string).split(',')) {
      const name = token.trim().toLowerCase();
      if (name) listed.add(name);
    }
  }
  return listed;
}

/**
 * The headers to send upstream, as a flat `[name, value, …]` list (duplicates and order
 * kept, as in `rawHeaders`): hop-by-hop fields, the caller's credentials, Expect (the gateway
 * answers 100-continue itself) and caller-supplied forwarding fields removed; Host,
 * X-Forwarded-For/-Proto/-Host, the request id and the caller statement set.
 */
export function buildUpstreamRequestHeaders(req: IncomingMessage, options: UpstreamHeaderOptions): string[] {
  const raw = req.rawHeaders;
  const listed = connectionListed(raw);
  const out: string[] = [];
  let priorFor: string | undefined;
  let priorProto: string | undefined;
  let priorHost: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || CREDENTIAL_FIELDS.has(lower)) continue;
    if (lower === 'host' || lower === 'expect') continue;
    if (lower === 'content-length' && options.contentLength !== undefined) continue;
    if (CREDENTIAL_PREFIXES.some((p) => lower.startsWith(p))) continue;
    if (FORWARDING_FIELDS.has(lower)) {
      // Repeated X-Forwarded-For lines form one list (RFC 9110 §5.3).
      if (lower === 'x-forwarded-for') priorFor = priorFor === undefined ? value : `${priorFor}, ${value}`;
      else if (lower === 'x-forwarded-proto') priorProto ??= value;
      else if (lower === 'x-forwarded-host') priorHost ??= value;
      continue;
    }
    out.push(name, value);
  }
  const peer = req.socket.remoteAddress ?? 'unknown';
  const ownProto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const trust = options.trustForwardedHeaders;
  out.push('host', options.upstreamHost);
  out.push('x-forwarded-for', trust && priorFor ? `${priorFor}, ${peer}` : peer);
  out.push('x-forwarded-proto', trust && priorProto ? priorProto : ownProto);
  const host = trust && priorHost ? priorHost : req.headers.host;
  if (host) out.push('x-forwarded-host', host);
  out.push(REQUEST_ID_HEADER, options.requestId);
  if (options.callerStatement !== undefined) out.push(CALLER_STATEMENT_HEADER, options.callerStatement);
  if (options.contentLength !== undefined) out.push('content-length', String(options.contentLength));
  return out;
}

/**
 * The upstream response's headers to send to the client, as a flat `[name, value, …]` list:
 * hop-by-hop fields (and the ones its Connection lists) removed, everything else kept in
 * order, with the gateway's request id added.
 */
export function buildClientResponseHeaders(rawUpstream: readonly string[], requestId: string): string[] {
  const listed = connectionListed(rawUpstream);
  const out: string[] = [];
  for (let i = 0; i < rawUpstream.length; i += 2) {
    const name = rawUpstream[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || lower === REQUEST_ID_HEADER) continue;
    out.push(name, rawUpstream[i + 1] as string);
  }
  out.push(REQUEST_ID_HEADER, requestId);
  return out;
}
