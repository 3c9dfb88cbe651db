import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Logger, silentLogger } from '../observability/logger.js';

/** Timeouts and connection limits of the listening socket. */
export interface HttpServerOptions {
  /** Time to receive the complete request headers. Default 10 s (slowloris protection). */
  readonly headersTimeoutMs?: number;
  /** Time to receive the complete request, body included. Default 60 s. */
  readonly requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open. Default 65 s: above the 60 s idle timeout
   * of common load balancers (AWS ALB, nginx), so the balancer, not aiam, closes first and never
   * sends on a socket aiam just closed.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Largest request header block, bytes. Default 16 KiB (Node's default). */
  readonly maxHeaderSize?: number;
  /** How often the header and request timeouts are checked. Default 1 s. */
  readonly timeoutCheckIntervalMs?: number;
  readonly logger?: Logger;
}

/** Options of `close`. */
export interface CloseOptions {
  /** How long in-flight requests may take to finish before their connections are cut. Default 10 s. */
  readonly graceMs?: number;
}

/**
 * A `node:http` server around a request handler, tuned for load (keep-alive, Nagle off) and
 * for shutdown: `close` stops accepting, closes idle keep-alive connections, lets in-flight
 * requests finish (their responses carry `Connection: close`), and cuts what is left after the
 * grace period. Malformed requests get a JSON error instead of Node's plain-text one.
 */
export class HttpServer {
  readonly server: Server;
  #inFlight = 0;
  #draining = false;
  #idle: (() => void) | undefined;
  readonly #log: Logger;

  constructor(
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
    options: HttpServerOptions = {},
  ) {
    this.#log = options.logger ?? silentLogger;
    this.server = createServer(
      {
        requestTimeout: options.requestTimeoutMs ?? 60_000,
        headersTimeout: options.headersTimeoutMs ?? 10_000,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000,
        maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
        // Node's default (30 s) lets a slow client overstay its timeout by that much.
        connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? 1000,
        noDelay: true,
      },
      (req, res) => {
        this.#inFlight++;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          this.#inFlight--;
          if (this.#inFlight === 0) this.#idle?.();
        };
        res.once('close', finish);
        handler(req, res).catch((err: unknown) => {
          this.#log.error('request handler crashed', { error: err });
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
            res.end(
              '{"error":{"code":"ERR_INTERNAL","message":"The server failed to process the request."}}',
            );
          } else res.destroy();
        });
      },
    );
    // Keep-alive: a gateway in front of the server can pipeline many requests per connection.
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
      this.#clientError(err, socket),
    );
  }

  /** True once `close` began. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Requests being handled right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Graceful stop. Resolves once every connection is closed; `forced` says whether requests
   * were still running when the grace period ended (their connections were cut).
   */
  async close(options: CloseOptions = {}): Promise<{ forced: boolean }> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    let forced = false;
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), options.graceMs ?? 10_000);
      });
      forced = (await Promise.race([idle, timeout])) === 'timeout';
      clearTimeout(timer);
    }
    // Connections that finished their last response are idle now; cut whatever is left.
    this.server.closeAllConnections();
    await closed;
    return { forced };
  }

  #clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || (err.code === 'ECONNRESET' && socket.destroyed)) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'ERR_HEADERS_TOO_LARGE', 'The request headers are too large.']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'ERR_REQUEST_TIMEOUT', 'The request did not arrive in time.']
          : [400, 'ERR_BAD_REQUEST', 'The request is not valid HTTP/1.1.'];
    const body = JSON.stringify({ error: { code, message } });
    const reason =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    this.#log.debug('client error', { code: err.code, status });
  }
}
