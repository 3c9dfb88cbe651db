import { randomUUID } from 'node:crypto';
import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { AiamError } from '@aiam/policy';
import { UpstreamTimeoutError, UpstreamUnavailableError, writeGatewayError } from './gateway-errors.js';
import { buildClientResponseHeaders, buildUpstreamRequestHeaders } from './header-hygiene.js';

/** Settings of a {@link ReverseProxy}; every field has a default. */
export interface ReverseProxyOptions {
  /** Most sockets open to one upstream origin; further requests wait for a free one. Default 256. */
  readonly maxSocketsPerUpstream?: number;
  /** Most idle keep-alive sockets kept per upstream origin. Default 64. */
  readonly maxFreeSocketsPerUpstream?: number;
  /** Time to obtain a connection (waiting for a pooled socket, then TCP/TLS connect). Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Time from the end of the request body to the upstream's response headers. Default 120 s. */
  readonly firstByteTimeoutMs?: number;
  /** Longest silence while the body uploads or the response streams. Default 120 s. */
  readonly idleTimeoutMs?: number;
  /**
   * Peer addresses of proxies in front of the gateway whose X-Forwarded-* fields are believed
   * (the gateway then appends to their X-Forwarded-For chain). Default: none, so a caller
   * cannot forge its address.
   */
  readonly trustedProxyAddresses?: Iterable<string>;
}

/** One request to forward. Plain inputs: the HTTP pipeline, auth and registry stay outside. */
export interface ForwardRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The deployment's base URL, e.g. `http://10.0.0.5:8000` or `http://host:8000/prefix`. */
  readonly upstreamUrl: string;
  /** Path and query to request below the base URL, starting with `/` (e.g. `/v1/chat/completions?x=1`). */
  readonly path: string;
  /** The deployment's name, for error messages; never the URL. */
  readonly deploymentName?: string;
  /** The gateway's id for this request; generated when absent. */
  readonly requestId?: string;
  /**
   * The body when the gateway already buffered it (to read the model); the same bytes are
   * forwarded with a Content-Length. When absent the request body is streamed as it arrives.
   */
  readonly body?: Buffer;
  /** Produces the `x-aiam-caller` statement (a JWT) sent to the upstream. */
  readonly callerStatement?: () => string | Promise<string>;
}

/** How a forwarded exchange ended, for health accounting, limits and audit. */
export interface ForwardResult {
  readonly requestId: string;
  /**
   * `completed`: the whole response reached the client. `client-aborted`: the client went
   * away and the upstream request was cancelled. `upstream-failed` / `timeout`: the upstream
   * broke or stalled (the client got a 502/504, or a cut stream if it had started).
   */
  readonly outcome: 'completed' | 'client-aborted' | 'upstream-failed' | 'timeout';
  /** The upstream's status code, when it answered. */
  readonly status?: number;
  /** The mapped error, for `upstream-failed` and `timeout`. */
  readonly error?: AiamError;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name resolution failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNABORTED: 'connection aborted',
};

function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) return true;
  return length !== undefined && length !== '0';
}

/** A timeout raised by the proxy itself, carried through `destroy(error)`. */
class PhaseTimeout extends Error {
  constructor(readonly phase: 'connect' | 'first-byte' | 'idle') {
    super(phase);
  }
}

/** Parsed upstream URLs kept at most; a full map starts over. */
const MAX_TARGETS = 1024;

/**
 * A streaming reverse proxy over node:http with one keep-alive Agent per upstream origin.
 * Bodies stream both ways chunk by chunk (no buffering, no compression, Nagle off), so
 * Server-Sent Events pass byte-identical and in order. A client disconnect cancels the
 * upstream request; an upstream failure becomes a 502/504 JSON error, or a cut stream once
 * the response has started. It never leaves a client hanging: every phase has a timeout.
 *
 * @example
 * const proxy = new ReverseProxy({ connectTimeoutMs: 2000 });
 * server.on('request', (req, res) =>
 *   proxy.forward({ req, res, upstreamUrl: 'http://127.0.0.1:8000', path: req.url ?? '/' }));
 */
export class ReverseProxy {
  readonly #agents = new Map<string, http.Agent>();
  readonly #targets = new Map<string, URL>();
  readonly #maxSockets: number;
  readonly #maxFreeSockets: number;
  readonly #connectTimeoutMs: number;
  readonly #firstByteTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #trusted: ReadonlySet<string>;

  constructor(options: ReverseProxyOptions = {}) {
    this.#maxSockets = options.maxSocketsPerUpstream ?? 256;
    this.#maxFreeSockets = options.maxFreeSocketsPerUpstream ?? 64;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.#firstByteTimeoutMs = options.firstByteTimeoutMs ?? 120_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.#trusted = new Set([...(options.trustedProxyAddresses ?? [])].map(normalizeAddress));
  }

  /** Closes every pooled upstream connection. In-flight requests are cut. */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /**
   * Forwards one request and resolves when the exchange is over. It never rejects: failures
   * are written to the client as JSON errors and reported in the result.
   */
  async forward(request: ForwardRequest): Promise<ForwardResult> {
    const requestId = request.requestId ?? randomUUID();
    const { res } = request;
    const target = this.#targetOf(request.upstreamUrl);
    if (target === undefined) {
      // A misconfigured deployment is the operator's problem; the caller sees a 502.
      const error = new UpstreamUnavailableError(
        `The deployment ${request.deploymentName ?? ''} has an unusable upstream URL.`.replace('  ', ' '),
      );
      writeGatewayError(res, error, requestId);
      return { requestId, outcome: 'upstream-failed', error };
    }
    let callerStatement: string | undefined;
    if (request.callerStatement) {
      try {
        callerStatement = await request.callerStatement();
      } catch (cause) {
        // Fail closed: without the statement the upstream cannot know who calls.
        writeGatewayError(
          res,
          cause instanceof Error ? new Error('caller statement', { cause }) : cause,
          requestId,
        );
        return { requestId, outcome: 'upstream-failed' };
      }
      if (res.destroyed) return { requestId, outcome: 'client-aborted' };
    }
    return new Promise<ForwardResult>((resolve) => {
      this.#send(request, target, requestId, callerStatement, resolve, true);
    });
  }

  /** The parsed upstream URL, kept per URL text (deployments are few; parsing is not free). */
  #targetOf(upstreamUrl: string): URL | undefined {
    let target = this.#targets.get(upstreamUrl);
    if (target === undefined) {
      try {
        target = new URL(upstreamUrl);
      } catch {
        return undefined;
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') return undefined;
      if (this.#targets.size >= MAX_TARGETS) this.#targets.clear();
      this.#targets.set(upstreamUrl, target);
    }
    return target;
  }

  #agentFor(target: URL): http.Agent {
    const key = target.origin;
    let agent = this.#agents.get(key);
    if (!agent) {
      const options = {
        keepAlive: true,
        maxSockets: this.#maxSockets,
        maxFreeSockets: this.#maxFreeSockets,
        scheduling: 'lifo' as const,
        noDelay: true,
      };
      agent = target.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  #send(
    request: ForwardRequest,
    target: URL,
    requestId: string,
    callerStatement: string | undefined,
    resolve: (result: ForwardResult) => void,
    mayRetry: boolean,
  ): void {
    const { req, res, body } = request;
    const basePath = target.pathname.endsWith('/') ? target.pathname.slice(0, -1) : target.pathname;
    const streamsBody = body === undefined && hasRequestBody(req);
    const headers = buildUpstreamRequestHeaders(req, {
      trustForwardedHeaders: this.#trusted.has(normalizeAddress(req.socket.remoteAddress ?? '')),
      upstreamHost: target.host,
      requestId,
      callerStatement,
      contentLength: body?.length,
    });
    const transport = target.protocol === 'https:' ? https : http;
    const upstreamReq: ClientRequest = transport.request({
      protocol: target.protocol,
      hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
      port: target.port || undefined,
      method: req.method,
      path: basePath + request.path,
      headers: headers as unknown as http.OutgoingHttpHeaders,
      agent: this.#agentFor(target),
      setHost: false,
    });

    let settled = false;
    let responseStarted = false;
    let upstreamStatus: number | undefined;
    const finish = (result: Omit<ForwardResult, 'requestId'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ requestId, ...result });
    };

    // One timer, re-armed per phase: connect, then idle while the body uploads, then first
    // byte, then idle while the response streams. refresh() keeps the per-chunk cost tiny.
    let phase: PhaseTimeout['phase'] = 'connect';
    const onTimer = (): void => {
      upstreamReq.destroy(new PhaseTimeout(phase));
    };
    let timer = setTimeout(onTimer, this.#connectTimeoutMs);
    const arm = (next: PhaseTimeout['phase'], ms: number): void => {
      phase = next;
      clearTimeout(timer);
      timer = setTimeout(onTimer, ms);
    };

    const onConnected = (): void => {
      if (phase !== 'connect') return;
      if (upstreamReq.writableFinished) arm('first-byte', this.#firstByteTimeoutMs);
      else arm('idle', this.#idleTimeoutMs);
    };
    upstreamReq.on('socket', (socket: Socket) => {
      if (!socket.connecting) {
        onConnected();
        return;
      }
      socket.setNoDelay(true);
      socket.once('connect', onConnected);
      socket.once('secureConnect', onConnected);
    });
    upstreamReq.on('finish', () => {
      if (phase !== 'connect' && !responseStarted) arm('first-byte', this.#firstByteTimeoutMs);
    });

    // The client went away before the response completed: cancel the upstream request.
    const onClientClose = (): void => {
      if (res.writableFinished) return;
      upstreamReq.destroy();
      finish({ outcome: 'client-aborted', status: upstreamStatus });
    };
    res.once('close', onClientClose);

    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (
        mayRetry &&
        !responseStarted &&
        !streamsBody &&
        upstreamReq.reusedSocket &&
        err.code === 'ECONNRESET' &&
        !res.destroyed
      ) {
        // A pooled keep-alive socket closed by the upstream just as it was reused: the request
        // never reached it, so one retry on a fresh connection is safe (RFC 9110 §9.2.2 logic).
        res.off('close', onClientClose);
        clearTimeout(timer);
        settled = true;
        this.#send(request, target, requestId, callerStatement, resolve, false);
        return;
      }
      const name = request.deploymentName ? `The deployment '${request.deploymentName}'` : 'The deployment';
      let error: AiamError;
      let outcome: ForwardResult['outcome'];
      if (err instanceof PhaseTimeout) {
        outcome = 'timeout';
        const what =
          err.phase === 'connect'
            ? `could not be connected to within ${this.#connectTimeoutMs} ms`
            : err.phase === 'first-byte'
              ? `did not start answering within ${this.#firstByteTimeoutMs} ms`
              : `was silent for more than ${this.#idleTimeoutMs} ms`;
        error = new UpstreamTimeoutError(`${name} ${what}.`);
      } else {
        outcome = 'upstream-failed';
        const reason = (err.code && NETWORK_REASONS[err.code]) ?? 'the exchange failed';
        error = new UpstreamUnavailableError(`${name} could not be reached: ${reason}.`, { cause: err });
      }
      if (!req.complete) res.shouldKeepAlive = false;
      writeGatewayError(res, error, requestId);
      finish({ outcome, error, status: upstreamStatus });
    });

    upstreamReq.on('response', (upstreamRes: IncomingMessage) => {
      responseStarted = true;
      upstreamStatus = upstreamRes.statusCode ?? 502;
      arm('idle', this.#idleTimeoutMs);
      if (res.destroyed) {
        upstreamReq.destroy();
        return;
      }
      res.writeHead(
        upstreamStatus,
        upstreamRes.statusMessage,
        buildClientResponseHeaders(upstreamRes.rawHeaders, requestId) as unknown as http.OutgoingHttpHeaders,
      );
      // Headers must not wait for the first event of a stream, but a body chunk arriving in
      // the same turn should travel with them in one packet: flush on the next turn unless a
      // write already carried them.
      setImmediate(() => {
        if (!res.headersSent && !res.destroyed) res.flushHeaders();
      });
      upstreamRes.on('data', (chunk: Buffer) => {
        timer.refresh();
        if (!res.write(chunk)) upstreamRes.pause();
      });
      res.on('drain', () => upstreamRes.resume());
      upstreamRes.on('end', () => {
        res.end();
        finish({ outcome: 'completed', status: upstreamStatus });
      });
      upstreamRes.on('error', () => {
        /* reported through 'close' below */
      });
      upstreamRes.on('close', () => {
        if (upstreamRes.complete || settled) return;
        // The upstream broke mid-response: cut the client's stream so it cannot look complete.
        const error =
          phase === 'idle' && upstreamReq.destroyed && timerFired(upstreamReq)
            ? new UpstreamTimeoutError('The deployment stopped sending mid-response.')
            : new UpstreamUnavailableError('The deployment closed the connection mid-response.');
        res.destroy();
        finish({
          outcome: error instanceof UpstreamTimeoutError ? 'timeout' : 'upstream-failed',
          error,
          status: upstreamStatus,
        });
      });
    });

    if (body !== undefined) {
      upstreamReq.end(body);
    } else if (!streamsBody) {
      upstreamReq.end();
    } else {
      req.on('data', (chunk: Buffer) => {
        timer.refresh();
        if (!upstreamReq.write(chunk)) req.pause();
      });
      upstreamReq.on('drain', () => req.resume());
      req.on('end', () => upstreamReq.end());
      req.on('error', () => upstreamReq.destroy());
    }
  }
}

/** True when the request was destroyed by one of the proxy's own timers. */
function timerFired(req: ClientRequest): boolean {
  return (req as unknown as { errored?: unknown }).errored instanceof PhaseTimeout;
}
