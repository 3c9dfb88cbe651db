import { join } from 'node:path';
import type { AppContext } from '../app/start-server.js';
import type { RawSurface } from '../app/raw-surface.js';
import type { AuditRecorder } from '../http/request-pipeline.js';
import { SigV4Verifier } from '../identity/sigv4-verifier.js';
import { FilesystemObjectBackend } from '../objects/filesystem-object-backend.js';
import type { ObjectBackend } from '../objects/object-backend.js';
import { cleanObjectStorage } from './object-janitor.js';
import { S3ApiHandler } from './s3-api-handler.js';
import type { S3Identity } from './s3-authentication.js';
import { isS3Request } from './s3-surface-claim.js';

/** Options of {@link openS3Surface}. */
export interface S3SurfaceOptions {
  /** Where audit records go (the server's audit writer). */
  readonly audit: AuditRecorder;
  /** Object bytes; default the filesystem backend under `<dataDir>/objects`. */
  readonly backend?: ObjectBackend;
  /**
   * Base host names for virtual-host style (`BUCKET.<base>`), e.g. from
   * `AIAM_S3_VIRTUAL_HOST_BASE` (comma-separated). Path style always works.
   */
  readonly virtualHostBases?: readonly string[];
  readonly trustedProxies?: readonly string[];
  readonly region?: string;
  /** How often stale uploads and orphan blobs are collected. Default one hour; 0 turns it off. */
  readonly cleanupIntervalMs?: number;
  /** Smallest multipart part but the last (default S3's 5 MiB). */
  readonly minPartSize?: number;
  /** fsync blobs before publishing (default true; tests may turn it off). */
  readonly fsync?: boolean;
}

/** The S3 surface of a running server. */
export interface S3Surface {
  readonly surface: RawSurface;
  readonly handler: S3ApiHandler;
  readonly backend: ObjectBackend;
  /** Stops the periodic cleaner and waits for a pass under way. */
  close(): Promise<void>;
}

/** Parses `AIAM_S3_VIRTUAL_HOST_BASE` (`s3.example.com,s3.local`) into lower-case host names. */
export function parseVirtualHostBases(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase().replace(/:\d+$/, ''))
    .filter((s) => s !== '');
}

/**
 * Opens the S3-compatible data plane: the object backend, a SigV4 verifier for service `s3`,
 * the handler, and the object-storage cleaner (once now, before serving: temporary files of a
 * killed process, uploads and blobs nothing references; then every `cleanupIntervalMs`).
 * Register `surface` as a raw surface and call `close` on shutdown.
 *
 * @example
 * const s3 = await openS3Surface(app, { audit, virtualHostBases: parseVirtualHostBases(env.AIAM_S3_VIRTUAL_HOST_BASE) });
 * app.onClose(() => s3.close());
 */
export async function openS3Surface(app: AppContext, options: S3SurfaceOptions): Promise<S3Surface> {
  const backend =
    options.backend ??
    new FilesystemObjectBackend({
      root: join(app.dataDir, 'objects'),
      ...(options.fsync !== undefined ? { fsync: options.fsync } : {}),
    });
  const verifier = new SigV4Verifier<S3Identity>({
    lookupSecret: app.principals.lookupSecret,
    services: ['s3'],
    clock: app.clock,
  });
  const virtualHostBases = options.virtualHostBases ?? [];
  const handler = new S3ApiHandler({
    store: app.store,
    backend,
    verifier,
    authorizer: app.serviceAuthorizer,
    audit: options.audit,
    logger: app.logger.child({ component: 's3' }),
    clock: app.clock,
    virtualHostBases,
    ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(options.minPartSize !== undefined ? { minPartSize: options.minPartSize } : {}),
  });

  const log = app.logger.child({ component: 's3-cleaner' });
  const clean = (temporaryOlderThanMs: number) =>
    cleanObjectStorage({ store: app.store, backend, clock: app.clock, logger: log, temporaryOlderThanMs });
  await clean(0);
  let running: Promise<unknown> = Promise.resolve();
  const interval = options.cleanupIntervalMs ?? 60 * 60 * 1000;
  const timer =
    interval > 0
      ? setInterval(() => {
          // Temporary files younger than a day may belong to a long upload still running.
          running = clean(24 * 60 * 60 * 1000).catch((error: unknown) =>
            log.warn('cleaning object storage failed; will retry', { error }),
          );
        }, interval)
      : undefined;
  timer?.unref();

  return {
    surface: {
      name: 's3',
      matches: (req) => isS3Request(req, virtualHostBases),
      handle: (req, res) => handler.handle(req, res),
    },
    handler,
    backend,
    close: async () => {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
