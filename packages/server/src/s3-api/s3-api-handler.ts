import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { ContextValue, Decision, RequestContext } from '@aiam/policy';
import { s3Arn } from '@aiam/policy';
import { type Clock, systemClock } from '../clock.js';
import type { AuditRecorder } from '../http/request-pipeline.js';
import { normalizeIp } from '../http/request-pipeline.js';
import type { SigV4Verifier } from '../identity/sigv4-verifier.js';
import type { ObjectBackend, StoredBlob } from '../objects/object-backend.js';
import { type Logger, silentLogger } from '../observability/logger.js';
import { checkConditionalHeaders } from '../s3/conditional-request.js';
import { formatContentRange, resolveRange } from '../s3/range-header.js';
import { S3Error, renderS3ErrorXml, toS3Error } from '../s3/s3-errors.js';
import { classifyS3Request, type S3Request } from '../s3/s3-request.js';
import {
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDeleteRequest,
  parseTagging,
  XML_BODY_LIMITS,
} from '../s3/s3-xml.js';
import {
  renderCompleteMultipartUpload,
  renderCopyResult,
  renderDeleteResult,
  renderInitiateMultipartUpload,
  renderListAllMyBuckets,
  renderListMultipartUploads,
  renderListObjectsV1,
  renderListObjectsV2,
  renderListObjectVersions,
  renderListParts,
  renderLocationConstraint,
  renderTagging,
  renderVersioningConfiguration,
  type S3ObjectEntry,
  type S3Owner,
} from '../s3/s3-xml-responses.js';
import type { ServiceAuthorizer } from '../services/authorizer.js';
import { BucketService } from '../services/bucket-service.js';
import { ObjectService } from '../services/object-service.js';
import type { ObjectMetadata, ObjectSummary, WriteConditions } from '../store/data-plane-types.js';
import type { Store } from '../store/store.js';
import { authenticateS3, buildS3Context, type S3Caller, type S3Identity } from './s3-authentication.js';
import {
  contentHeadersOf,
  DEFAULT_CONTENT_TYPE,
  readSmallBody,
  uploadBody,
  userMetadataOf,
} from './s3-request-body.js';
import { RESERVED_BUCKET_NAMES } from './s3-surface-claim.js';
import { sendFileRange } from './send-file-range.js';

/** Options of {@link S3ApiHandler}. */
export interface S3ApiHandlerOptions {
  readonly store: Store;
  readonly backend: ObjectBackend;
  /** A verifier for service `s3` only (S3's single-encoded paths). */
  readonly verifier: SigV4Verifier<S3Identity>;
  readonly authorizer: ServiceAuthorizer;
  readonly audit: AuditRecorder;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Host names under which buckets are addressed virtual-host style (`BUCKET.<base>`). */
  readonly virtualHostBases?: readonly string[];
  /** Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. */
  readonly trustedProxies?: readonly string[];
  /** The region reported by GetBucketLocation and HeadBucket. Default `us-east-1`. */
  readonly region?: string;
  /** Smallest part but the last (S3: 5 MiB); lowered only in tests. */
  readonly minPartSize?: number;
}

/** One decision taken for a request, kept for the audit record written when it ends. */
interface TakenDecision {
  readonly decisionId: string;
  readonly action: string;
  readonly resource: string;
  readonly decision: Decision;
}

/** Per-request state shared by the steps. */
interface S3Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly receivedAt: number;
  readonly sourceIp: string;
  readonly secure: boolean;
  readonly userAgent: string | undefined;
  readonly decisions: TakenDecision[];
  s3?: S3Request;
  caller?: S3Caller;
  context?: RequestContext;
  /**
   * The object as read to learn its tags for authorization (`s3:ExistingObjectTag/…`): GET and
   * HEAD serve this same row, so the object decided on is the object served, in one read.
   */
  existing?: { readonly bucket: string; readonly key: string; readonly object: ObjectMetadata | undefined };
}

/** A response to send: status, headers, and an XML/JSON string or a stream. */
interface S3Reply {
  status: number;
  headers?: Record<string, string | number>;
  body?: string;
  /** Object bytes read at once (small objects); sent with the headers in one write. */
  bytes?: Buffer;
  /** An open blob file (descriptor) and the byte span to send from it; closed once sent. */
  file?: { fd: number; start: number; length: number };
  stream?: NodeJS.ReadableStream;
}

const XML = 'application/xml';
const MAX_POLICY_BYTES = 20 * 1024;

/** Random bytes drawn 4 KiB at a time: one draw per 512 request ids instead of one each. */
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** An S3-style request id: 16 uppercase hex characters, random. */
function newRequestId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(4096);
    idOffset = 0;
  }
  idOffset += 8;
  return idPool.toString('hex', idOffset - 8, idOffset).toUpperCase();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function quote(etag: string): string {
  return `"${etag}"`;
}

function toEntry(o: ObjectSummary, owner: S3Owner): S3ObjectEntry {
  const e: S3ObjectEntry = {
    key: o.key,
    lastModified: new Date(o.lastModified),
    etag: o.etag,
    size: o.size,
    owner,
  };
  if (o.checksumAlgorithms[0]) e.checksumAlgorithm = o.checksumAlgorithms[0];
  return e;
}

function optionalInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value)) {
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, {
      details: { ArgumentName: name, ArgumentValue: value.slice(0, 32) },
    });
  }
  return Number(value);
}

function encodingType(query: ReadonlyMap<string, string>): 'url' | undefined {
  const v = query.get('encoding-type');
  if (v === undefined) return undefined;
  if (v !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      details: { ArgumentName: 'encoding-type', ArgumentValue: v.slice(0, 32) },
    });
  }
  return 'url';
}

function writeConditions(req: IncomingMessage): WriteConditions | undefined {
  const ifNoneMatch = header(req, 'if-none-match');
  const ifMatch = header(req, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  const c: WriteConditions = {};
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*')
      throw new S3Error('NotImplemented', 'If-None-Match on writes takes only "*".');
    c.ifNoneMatch = '*';
  }
  if (ifMatch !== undefined) c.ifMatch = ifMatch.trim().replace(/^"(.*)"$/, '$1');
  return c;
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/**
 * The S3-compatible data plane: one request in, one S3 response out. Per request: classify
 * (operation, bucket, key, IAM actions, condition keys) → authenticate with SigV4 (or
 * anonymous) → build the request context → authorize every required action through the one
 * `ServiceAuthorizer` (identity policies, bucket policies, boundaries and session policies
 * combined by the engine) → act → audit. Bodies stream: uploads are verified (chunk
 * signatures, checksums, lengths) while they are written to a temporary blob, and metadata is
 * committed only once the blob is durable; the blob an overwrite replaced is deleted after the
 * commit. Errors are S3 XML with S3's codes and an `x-amz-request-id`.
 */
export class S3ApiHandler {
  readonly #store: Store;
  readonly #backend: ObjectBackend;
  readonly #verifier: SigV4Verifier<S3Identity>;
  readonly #authorizer: ServiceAuthorizer;
  readonly #audit: AuditRecorder;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #virtualHostBases: readonly string[];
  readonly #trusted: ReadonlySet<string>;
  readonly #region: string;
  readonly #minPartSize: number | undefined;
  readonly #buckets: BucketService;
  readonly #objects: ObjectService;

  constructor(options: S3ApiHandlerOptions) {
    this.#store = options.store;
    this.#backend = options.backend;
    this.#verifier = options.verifier;
    this.#authorizer = options.authorizer;
    this.#audit = options.audit;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#virtualHostBases = options.virtualHostBases ?? [];
    this.#trusted = new Set((options.trustedProxies ?? []).map(normalizeIp));
    this.#region = options.region ?? 'us-east-1';
    this.#minPartSize = options.minPartSize;
    this.#buckets = new BucketService({ store: options.store });
    this.#objects = new ObjectService({ store: options.store });
  }

  /** Serves one request; never rejects. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ip, secure } = this.#sourceOf(req);
    const x: S3Exchange = {
      req,
      res,
      requestId: newRequestId(),
      receivedAt: this.#clock.now(),
      sourceIp: ip,
      secure,
      userAgent: header(req, 'user-agent'),
      decisions: [],
    };
    res.setHeader('x-amz-request-id', x.requestId);
    res.setHeader('x-amz-id-2', x.requestId);
    res.setHeader('server', 'aiam');
    let status = 500;
    let errorCode: string | null = null;
    try {
      const reply = await this.#serve(x);
      status = reply.status;
      await this.#send(x, reply);
    } catch (error) {
      const e = this.#mapError(error, x);
      status = e.status;
      errorCode = e.s3Code;
      if (e.s3Code === 'InternalError') {
        this.#log.error('S3 request failed', { requestId: x.requestId, operation: x.s3?.operation, error });
      }
      this.#sendError(x, e);
    } finally {
      this.#record(x, status, errorCode);
    }
  }

  #sourceOf(req: IncomingMessage): { ip: string; secure: boolean } {
    const peer = normalizeIp(req.socket.remoteAddress ?? '');
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    if (!this.#trusted.has(peer)) return { ip: peer, secure };
    const xff = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
      .split(',')
      .map((s) => normalizeIp(s.trim()));
    let ip = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (hop === '') continue;
      ip = hop;
      if (!this.#trusted.has(hop)) break;
    }
    return { ip, secure: secure || req.headers['x-forwarded-proto'] === 'https' };
  }

  #mapError(error: unknown, x: S3Exchange): S3Error {
    const hint: { bucket?: string; key?: string } = {};
    if (x.s3?.bucket !== undefined) hint.bucket = x.s3.bucket;
    if (x.s3?.key !== undefined) hint.key = x.s3.key;
    return toS3Error(error, hint);
  }

  /** One audit record per decision (or one for a request refused before any decision). */
  #record(x: S3Exchange, status: number, errorCode: string | null): void {
    const principal = x.caller?.who.principal.arn ?? null;
    const credential = x.caller?.who.credentialId ?? null;
    const base = {
      time: x.receivedAt,
      requestId: x.requestId,
      principal,
      sourceIp: x.sourceIp,
      userAgent: x.userAgent ?? null,
    };
    const extra = { status, operation: x.s3?.operation ?? null, credential, surface: 's3' };
    if (x.decisions.length === 0) {
      // Refused before authorization (bad signature, malformed request): still on the record.
      this.#audit.record({
        ...base,
        action: x.s3?.action ?? null,
        resource: x.s3?.resource ?? null,
        decision: x.caller ? null : 'unauthenticated',
        errorCode,
        extra,
      });
      return;
    }
    for (const d of x.decisions) {
      this.#audit.record({
        ...base,
        id: d.decisionId,
        action: d.action,
        resource: d.resource,
        decision: d.decision.decision,
        matchedStatements: d.decision.matched,
        errorCode: d.decision.decision === 'allowed' ? errorCode : 'AccessDenied',
        // What `explain` of this decision id shows once it has left the server's memory.
        extra:
          d.decision.reason === undefined && d.decision.missingContextValues.length === 0
            ? extra
            : {
                ...extra,
                ...(d.decision.reason ? { reason: d.decision.reason } : {}),
                ...(d.decision.missingContextValues.length
                  ? { missingContextValues: d.decision.missingContextValues }
                  : {}),
              },
      });
    }
  }

  /** Asks the engine; returns whether allowed and remembers the decision for the audit trail. */
  async #decide(x: S3Exchange, action: string, resource: string): Promise<boolean> {
    const caller = x.caller!;
    const result = await this.#authorizer.authorize({
      principal: caller.who.principal,
      action,
      resource,
      context: x.context!,
      ...(caller.who.sessionPolicies ? { sessionPolicies: caller.who.sessionPolicies } : {}),
      audit: {
        requestId: x.requestId,
        sourceIp: x.sourceIp,
        ...(caller.who.credentialId ? { credentialId: caller.who.credentialId } : {}),
      },
    });
    x.decisions.push({ decisionId: result.decisionId, action, resource, decision: result.decision });
    return result.allowed;
  }

  async #require(x: S3Exchange, action: string, resource: string): Promise<void> {
    if (!(await this.#decide(x, action, resource))) throw new S3Error('AccessDenied');
  }

  async #serve(x: S3Exchange): Promise<S3Reply> {
    const { req } = x;
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const s3 = classifyS3Request(
      { method, url, headers: req.headers },
      { virtualHostBases: this.#virtualHostBases },
    );
    x.s3 = s3;
    if (s3.bucket !== undefined && RESERVED_BUCKET_NAMES.has(s3.bucket)) {
      throw new S3Error(
        'InvalidBucketName',
        `The bucket name "${s3.bucket}" is reserved on this server: /${s3.bucket}/ is another API's path. Choose another name.`,
        { details: { BucketName: s3.bucket } },
      );
    }
    const q = url.indexOf('?');
    const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(url);
    const rawPath = (q >= 0 ? url.slice(0, q) : url).slice(absolute ? absolute[0].length : 0) || '/';
    x.caller = await authenticateS3(this.#verifier, req, rawPath, q >= 0 ? url.slice(q + 1) : '');

    const keys: Record<string, ContextValue> = { ...s3.conditions };
    if (s3.needsExistingObjectTags && s3.bucket !== undefined && s3.key !== undefined) {
      const existing = await this.#store.getObject(s3.bucket, s3.key);
      x.existing = { bucket: s3.bucket, key: s3.key, object: existing };
      for (const [k, v] of Object.entries(existing?.tags ?? {})) keys[`s3:ExistingObjectTag/${k}`] = v;
    }
    x.context = buildS3Context(
      {
        sourceIp: x.sourceIp,
        secureTransport: x.secure,
        receivedAt: x.receivedAt,
        userAgent: x.userAgent,
        referer: header(req, 'referer'),
      },
      x.caller,
      keys,
    );
    // DeleteObjects is decided per key inside the operation, as S3 does.
    if (s3.operation !== 'DeleteObjects') {
      for (const need of s3.authorizations) await this.#require(x, need.action, need.resource);
    }
    return this.#dispatch(x, s3);
  }

  #dispatch(x: S3Exchange, s3: S3Request): Promise<S3Reply> {
    const bucket = s3.bucket!;
    const key = s3.key!;
    switch (s3.operation) {
      case 'ListBuckets':
        return this.#listBuckets();
      case 'CreateBucket':
        return this.#createBucket(x, bucket);
      case 'DeleteBucket':
        return this.#deleteBucket(bucket);
      case 'HeadBucket':
        return this.#headBucket(bucket);
      case 'GetBucketLocation':
        return this.#bucketXml(bucket, () => renderLocationConstraint(this.#region));
      case 'GetBucketVersioning':
        return this.#bucketXml(bucket, () => renderVersioningConfiguration());
      case 'GetBucketPolicy':
        return this.#getBucketPolicy(bucket);
      case 'PutBucketPolicy':
        return this.#putBucketPolicy(x, bucket);
      case 'DeleteBucketPolicy':
        return this.#buckets.deleteBucketPolicy(bucket).then(() => ({ status: 204 }));
      case 'GetBucketTagging':
        return this.#buckets.getBucketTagging(bucket).then((tags) => xml(renderTagging(tags)));
      case 'PutBucketTagging':
        return this.#putBucketTagging(x, bucket);
      case 'DeleteBucketTagging':
        return this.#buckets.deleteBucketTagging(bucket).then(() => ({ status: 204 }));
      case 'ListObjects':
        return this.#listObjectsV1(bucket, s3.query);
      case 'ListObjectsV2':
        return this.#listObjectsV2(bucket, s3.query);
      case 'ListObjectVersions':
        return this.#listObjectVersions(bucket, s3.query);
      case 'ListMultipartUploads':
        return this.#listMultipartUploads(bucket, s3.query);
      case 'DeleteObjects':
        return this.#deleteObjects(x, bucket);
      case 'GetObject':
      case 'HeadObject':
        return this.#getObject(x, s3, bucket, key);
      case 'PutObject':
        return this.#putObject(x, bucket, key);
      case 'CopyObject':
        return this.#copyObject(x, s3, bucket, key);
      case 'DeleteObject':
        return this.#deleteObject(x, s3, bucket, key);
      case 'CreateMultipartUpload':
        return this.#createMultipartUpload(x, bucket, key);
      case 'UploadPart':
        return this.#uploadPart(x, s3, bucket, key);
      case 'UploadPartCopy':
        return this.#uploadPartCopy(x, s3, bucket, key);
      case 'CompleteMultipartUpload':
        return this.#completeMultipartUpload(x, s3, bucket, key);
      case 'AbortMultipartUpload':
        return this.#abortMultipartUpload(s3, bucket, key);
      case 'ListParts':
        return this.#listParts(s3, bucket, key);
      case 'GetObjectTagging':
        return this.#getObjectTagging(s3, bucket, key);
      case 'PutObjectTagging':
        return this.#putObjectTagging(x, s3, bucket, key);
      case 'DeleteObjectTagging':
        return this.#deleteObjectTagging(s3, bucket, key);
    }
  }

  // ---- buckets ---------------------------------------------------------------------------

  #owner(arn?: string | null): S3Owner {
    return { id: this.#store.accountId, displayName: arn ?? this.#store.accountId };
  }

  async #listBuckets(): Promise<S3Reply> {
    const buckets = await this.#buckets.listBuckets();
    return xml(
      renderListAllMyBuckets({
        owner: this.#owner(),
        buckets: buckets.map((b) => ({
          name: b.name,
          creationDate: new Date(b.createdAt),
          region: this.#region,
        })),
      }),
    );
  }

  async #createBucket(x: S3Exchange, bucket: string): Promise<S3Reply> {
    const body = await readSmallBody(x.req, x.caller!, XML_BODY_LIMITS.createBucketConfiguration);
    const { locationConstraint } = parseCreateBucketConfiguration(body);
    if (locationConstraint !== undefined && locationConstraint !== this.#region) {
      throw new S3Error(
        'InvalidLocationConstraint',
        `This server serves region ${this.#region}; the location constraint ${locationConstraint} is not available.`,
      );
    }
    const existing = await this.#store.getBucket(bucket);
    if (existing) {
      throw new S3Error(
        existing.ownerArn === x.caller!.who.principal.arn ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists',
        undefined,
        { details: { BucketName: bucket } },
      );
    }
    await this.#buckets.createBucket(bucket, x.caller!.who.principal.arn);
    return { status: 200, headers: { location: `/${bucket}` } };
  }

  async #deleteBucket(bucket: string): Promise<S3Reply> {
    const { abortedUploadIds } = await this.#buckets.deleteBucket(bucket);
    for (const id of abortedUploadIds) await this.#backend.abortMultipartUpload(id).catch(() => {});
    return { status: 204 };
  }

  async #headBucket(bucket: string): Promise<S3Reply> {
    await this.#buckets.headBucket(bucket);
    return { status: 200, headers: { 'x-amz-bucket-region': this.#region } };
  }

  async #bucketXml(bucket: string, render: () => string): Promise<S3Reply> {
    await this.#buckets.headBucket(bucket);
    return xml(render());
  }

  async #getBucketPolicy(bucket: string): Promise<S3Reply> {
    const text = await this.#buckets.getBucketPolicy(bucket);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: text };
  }

  async #putBucketPolicy(x: S3Exchange, bucket: string): Promise<S3Reply> {
    const body = await readSmallBody(x.req, x.caller!, MAX_POLICY_BYTES);
    const text = body.toString('utf8');
    if (text.trim() === '') throw new S3Error('MissingRequestBodyError');
    await this.#buckets.putBucketPolicy(bucket, text);
    return { status: 204 };
  }

  async #putBucketTagging(x: S3Exchange, bucket: string): Promise<S3Reply> {
    const body = await readSmallBody(x.req, x.caller!, XML_BODY_LIMITS.tagging);
    const tags = parseTagging(body, 50);
    await this.#buckets.putBucketTagging(bucket, Object.fromEntries(tags));
    return { status: 204 };
  }

  // ---- listings ----------------------------------------------------------------------------

  async #listObjectsV2(bucket: string, query: ReadonlyMap<string, string>): Promise<S3Reply> {
    const enc = encodingType(query);
    const maxKeys = optionalInt(query.get('max-keys'), 'max-keys') ?? 1000;
    const prefix = query.get('prefix');
    const delimiter = query.get('delimiter') || undefined;
    const startAfter = query.get('start-after');
    const continuationToken = query.get('continuation-token');
    const page = await this.#objects.listObjectsV2(bucket, {
      prefix,
      delimiter,
      maxKeys: Math.min(maxKeys, 1000),
      startAfter,
      continuationToken,
    });
    const fetchOwner = query.get('fetch-owner') === 'true';
    const owner = this.#owner();
    return xml(
      renderListObjectsV2({
        bucket,
        prefix,
        delimiter,
        maxKeys,
        encodingType: enc,
        startAfter,
        continuationToken,
        nextContinuationToken: page.nextContinuationToken,
        isTruncated: page.isTruncated,
        objects: page.objects.map((o) => toEntry(o, owner)),
        commonPrefixes: page.commonPrefixes,
        fetchOwner,
      }),
    );
  }

  async #listObjectsV1(bucket: string, query: ReadonlyMap<string, string>): Promise<S3Reply> {
    const enc = encodingType(query);
    const maxKeys = optionalInt(query.get('max-keys'), 'max-keys') ?? 1000;
    const prefix = query.get('prefix');
    const delimiter = query.get('delimiter') || undefined;
    const marker = query.get('marker');
    const page = await this.#objects.listObjectsV1(bucket, {
      prefix,
      delimiter,
      maxKeys: Math.min(maxKeys, 1000),
      marker,
    });
    const owner = this.#owner();
    return xml(
      renderListObjectsV1({
        bucket,
        prefix,
        marker,
        nextMarker: page.nextMarker,
        delimiter,
        maxKeys,
        encodingType: enc,
        isTruncated: page.isTruncated,
        objects: page.objects.map((o) => toEntry(o, owner)),
        commonPrefixes: page.commonPrefixes,
      }),
    );
  }

  async #listObjectVersions(bucket: string, query: ReadonlyMap<string, string>): Promise<S3Reply> {
    const enc = encodingType(query);
    const maxKeys = optionalInt(query.get('max-keys'), 'max-keys') ?? 1000;
    const prefix = query.get('prefix');
    const delimiter = query.get('delimiter') || undefined;
    const keyMarker = query.get('key-marker');
    const versionIdMarker = query.get('version-id-marker');
    const page = await this.#objects.listObjectVersions(bucket, {
      prefix,
      delimiter,
      maxKeys: Math.min(maxKeys, 1000),
      keyMarker,
      versionIdMarker,
    });
    const owner = this.#owner();
    return xml(
      renderListObjectVersions({
        bucket,
        prefix,
        delimiter,
        keyMarker,
        versionIdMarker,
        nextKeyMarker: page.nextKeyMarker,
        nextVersionIdMarker: page.nextVersionIdMarker,
        maxKeys,
        encodingType: enc,
        isTruncated: page.isTruncated,
        versions: page.versions.map((v) => ({ ...toEntry(v, owner), versionId: 'null', isLatest: true })),
        commonPrefixes: page.commonPrefixes,
      }),
    );
  }

  async #listMultipartUploads(bucket: string, query: ReadonlyMap<string, string>): Promise<S3Reply> {
    const enc = encodingType(query);
    const maxUploads = optionalInt(query.get('max-uploads'), 'max-uploads') ?? 1000;
    const prefix = query.get('prefix');
    const delimiter = query.get('delimiter') || undefined;
    const keyMarker = query.get('key-marker');
    const uploadIdMarker = query.get('upload-id-marker');
    const page = await this.#objects.listMultipartUploads(bucket, {
      prefix,
      delimiter,
      keyMarker,
      uploadIdMarker,
      maxUploads: Math.min(maxUploads, 1000),
    });
    return xml(
      renderListMultipartUploads({
        bucket,
        prefix,
        delimiter,
        keyMarker,
        uploadIdMarker,
        nextKeyMarker: page.nextKeyMarker,
        nextUploadIdMarker: page.nextUploadIdMarker,
        maxUploads,
        encodingType: enc,
        isTruncated: page.isTruncated,
        uploads: page.uploads.map((u) => ({
          key: u.key,
          uploadId: u.uploadId,
          initiator: this.#owner(u.initiatorArn),
          owner: this.#owner(u.initiatorArn),
          initiated: new Date(u.initiatedAt),
        })),
        commonPrefixes: page.commonPrefixes,
      }),
    );
  }

  // ---- objects ---------------------------------------------------------------------------

  #checkVersion(s3: S3Request): void {
    // Buckets are unversioned: the only version an object has is `null`.
    if (s3.versionId !== undefined && s3.versionId !== 'null') {
      throw new S3Error('NoSuchVersion', undefined, {
        details: { Key: s3.key, VersionId: s3.versionId.slice(0, 128) },
      });
    }
  }

  /**
   * Looks an object up for a read. S3 answers a missing key with NoSuchKey only to callers
   * that may list the bucket; to others with AccessDenied, so keys cannot be probed.
   */
  async #readable(x: S3Exchange, bucket: string, key: string): Promise<ObjectMetadata> {
    const read = x.existing;
    if (read?.object !== undefined && read.bucket === bucket && read.key === key) return read.object;
    try {
      return await this.#objects.headObject(bucket, key);
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_NO_SUCH_KEY') {
        if (!(await this.#decide(x, 's3:ListBucket', s3Arn(bucket)))) throw new S3Error('AccessDenied');
      }
      throw error;
    }
  }

  #objectHeaders(o: ObjectMetadata, withChecksums: boolean): Record<string, string | number> {
    const h: Record<string, string | number> = {
      etag: quote(o.etag),
      'last-modified': new Date(o.lastModified).toUTCString(),
      'content-type': o.contentType ?? DEFAULT_CONTENT_TYPE,
      'accept-ranges': 'bytes',
    };
    const c = o.contentHeaders;
    if (c.cacheControl !== undefined) h['cache-control'] = c.cacheControl;
    if (c.contentDisposition !== undefined) h['content-disposition'] = c.contentDisposition;
    if (c.contentEncoding !== undefined) h['content-encoding'] = c.contentEncoding;
    if (c.contentLanguage !== undefined) h['content-language'] = c.contentLanguage;
    if (c.expires !== undefined) h.expires = c.expires;
    for (const [name, value] of Object.entries(o.userMetadata)) h[`x-amz-meta-${name}`] = value;
    const tagCount = Object.keys(o.tags).length;
    if (tagCount > 0) h['x-amz-tagging-count'] = tagCount;
    if (withChecksums) {
      for (const [alg, value] of Object.entries(o.checksums)) {
        if (alg !== 'MD5') h[`x-amz-checksum-${alg.toLowerCase()}`] = value;
      }
    }
    return h;
  }

  async #getObject(x: S3Exchange, s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    this.#checkVersion(s3);
    const o = await this.#readable(x, bucket, key);
    const method = s3.operation === 'HeadObject' ? 'HEAD' : 'GET';
    const range = resolveRange(header(x.req, 'range'), o.size);
    // Whole-object checksums only for whole, single-part objects: a range's bytes do not match
    // them, and a multipart object's checksum is S3's checksum-of-checksums, which aiam does not keep.
    const withChecksums =
      header(x.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED' && !range && !o.etag.includes('-');
    const headers = this.#objectHeaders(o, withChecksums);
    try {
      checkConditionalHeaders(method, x.req.headers, {
        exists: true,
        etag: o.etag,
        lastModified: new Date(o.lastModified),
      });
    } catch (error) {
      // RFC 9110 §15.4.5: a 304 carries the validators.
      if ((error as S3Error).s3Code === 'NotModified') {
        return { status: 304, headers: { etag: headers.etag!, 'last-modified': headers['last-modified']! } };
      }
      throw error;
    }
    for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = s3.query.get(param);
      if (v !== undefined) headers[name] = v;
    }
    if (s3.versionId !== undefined) headers['x-amz-version-id'] = 'null';
    if (range) {
      headers['content-range'] = formatContentRange(range, o.size);
      headers['content-length'] = range.end - range.start + 1;
    } else {
      headers['content-length'] = o.size;
    }
    const status = range ? 206 : 200;
    if (method === 'HEAD') return { status, headers };
    try {
      const bytes = this.#backend.readSmall?.(o.blobId, range, o.size);
      if (bytes !== undefined) return { status, headers, bytes };
      const fd = this.#backend.openFile?.(o.blobId);
      if (fd !== undefined) {
        const start = range?.start ?? 0;
        const length = range ? Math.max(range.end - range.start + 1, 0) : o.size;
        return { status, headers, file: { fd, start, length } };
      }
      return { status, headers, stream: await this.#backend.get(o.blobId, range) };
    } catch (error) {
      // The row was read, then its blob was gone: the object was replaced or deleted meanwhile
      // (a replaced blob is removed after the new one commits). Not a 404 for a key that may
      // exist, and not the new object either (the request was authorized on the row read):
      // a 503, which clients retry.
      if (error instanceof S3Error && error.s3Code === 'NoSuchKey') {
        throw new S3Error(
          'ServiceUnavailable',
          'The object changed while it was being read; retry the request.',
        );
      }
      throw error;
    }
  }

  async #requireBucket(bucket: string): Promise<void> {
    await this.#buckets.headBucket(bucket);
  }

  /** Deletes a blob nothing references any more; a failure is left for the garbage collector. */
  #discard(blobId: string | undefined): void {
    if (blobId === undefined) return;
    this.#backend.delete(blobId).catch((error: unknown) => {
      this.#log.warn('deleting a replaced blob failed; the garbage collector will retry', { blobId, error });
    });
  }

  /** Commits metadata for a durable blob; when the commit fails, the blob is removed again. */
  async #commit<T extends { replacedBlobId: string | undefined }>(
    blob: StoredBlob,
    commit: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await commit();
    } catch (error) {
      this.#discard(blob.id);
      throw error;
    }
    this.#discard(result.replacedBlobId);
    return result;
  }

  #checksumHeaders(blob: { checksums: Partial<Record<string, string>> }): Record<string, string> {
    const h: Record<string, string> = {};
    for (const [alg, value] of Object.entries(blob.checksums)) {
      if (alg !== 'MD5' && value !== undefined) h[`x-amz-checksum-${alg.toLowerCase()}`] = value;
    }
    return h;
  }

  #tagsOf(x: S3Exchange): Record<string, string> | undefined {
    const raw = header(x.req, 'x-amz-tagging');
    if (raw === undefined) return undefined;
    return Object.fromEntries(new URLSearchParams(raw));
  }

  async #putObject(x: S3Exchange, bucket: string, key: string): Promise<S3Reply> {
    await this.#requireBucket(bucket);
    const conditions = writeConditions(x.req);
    if (conditions) {
      const current = await this.#store.getObject(bucket, key);
      checkConditionalHeaders(
        'PUT',
        x.req.headers,
        current ? { exists: true, etag: current.etag } : { exists: false },
      );
    }
    const { source, options } = uploadBody(x.req, x.caller!);
    const blob = await this.#backend.put(source, options);
    const tags = this.#tagsOf(x);
    const result = await this.#commit(blob, () =>
      this.#objects.putObject(
        bucket,
        key,
        blob,
        {
          contentType: header(x.req, 'content-type') ?? null,
          contentHeaders: contentHeadersOf(x.req),
          userMetadata: userMetadataOf(x.req),
          ...(tags ? { tags } : {}),
          ownerArn: x.caller!.who.principal.arn,
        },
        conditions,
      ),
    );
    return { status: 200, headers: { etag: quote(result.object.etag), ...this.#checksumHeaders(blob) } };
  }

  async #copySource(x: S3Exchange, s3: S3Request): Promise<ObjectMetadata> {
    const src = s3.copySource!;
    if (src.versionId !== undefined && src.versionId !== 'null') {
      throw new S3Error('NoSuchVersion', undefined, {
        details: { Key: src.key, VersionId: src.versionId.slice(0, 128) },
      });
    }
    const o = await this.#objects.headObject(src.bucket, src.key);
    // x-amz-copy-source-if-* are If-* evaluated against the source (S3 CopyObject).
    const h: Record<string, string | undefined> = {
      'if-match': header(x.req, 'x-amz-copy-source-if-match'),
      'if-none-match': header(x.req, 'x-amz-copy-source-if-none-match'),
      'if-modified-since': header(x.req, 'x-amz-copy-source-if-modified-since'),
      'if-unmodified-since': header(x.req, 'x-amz-copy-source-if-unmodified-since'),
    };
    try {
      checkConditionalHeaders('GET', h, {
        exists: true,
        etag: o.etag,
        lastModified: new Date(o.lastModified),
      });
    } catch (error) {
      if ((error as S3Error).s3Code === 'NotModified') throw new S3Error('PreconditionFailed');
      throw error;
    }
    return o;
  }

  async #copyObject(x: S3Exchange, s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    await this.#requireBucket(bucket);
    const source = await this.#copySource(x, s3);
    const directive = (header(x.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
    const tagging = (header(x.req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
    if (source.bucket === bucket && source.key === key && directive === 'COPY') {
      // Refused before any bytes are copied (the service would refuse the commit anyway).
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const conditions = writeConditions(x.req);
    const stream = await this.#backend.get(source.blobId);
    const algorithms = Object.keys(source.checksums).filter((a) => a !== 'MD5') as never[];
    const blob = await this.#backend.put(stream, {
      expectedSize: source.size,
      checksumAlgorithms: algorithms,
    });
    const tags = this.#tagsOf(x);
    const result = await this.#commit(blob, () =>
      this.#objects.copyObject(source, { bucket, key, ownerArn: x.caller!.who.principal.arn }, blob, {
        metadataDirective: directive as 'COPY' | 'REPLACE',
        taggingDirective: tagging as 'COPY' | 'REPLACE',
        replacement: {
          contentType: header(x.req, 'content-type') ?? null,
          contentHeaders: contentHeadersOf(x.req),
          userMetadata: userMetadataOf(x.req),
          ...(tags ? { tags } : {}),
        },
        ...(conditions ? { conditions } : {}),
      }),
    );
    return xml(
      renderCopyResult({
        lastModified: new Date(result.object.lastModified),
        etag: result.object.etag,
        checksums: blob.checksums,
      }),
    );
  }

  async #deleteObject(x: S3Exchange, s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    this.#checkVersion(s3);
    await this.#requireBucket(bucket);
    const conditions = writeConditions(x.req);
    const blobId = await this.#objects.deleteObject(bucket, key, conditions);
    this.#discard(blobId);
    return {
      status: 204,
      ...(s3.versionId !== undefined ? { headers: { 'x-amz-version-id': 'null' } } : {}),
    };
  }

  async #deleteObjects(x: S3Exchange, bucket: string): Promise<S3Reply> {
    const body = await readSmallBody(x.req, x.caller!, XML_BODY_LIMITS.delete);
    const request = parseDeleteRequest(body);
    await this.#requireBucket(bucket);
    const errors: { key: string; versionId?: string; code: string; message: string }[] = [];
    const allowed: string[] = [];
    for (const o of request.objects) {
      if (o.versionId !== undefined && o.versionId !== 'null') {
        errors.push({
          key: o.key,
          versionId: o.versionId,
          code: 'NoSuchVersion',
          message: 'The specified version does not exist.',
        });
        continue;
      }
      const action = o.versionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject';
      if (await this.#decide(x, action, s3Arn(bucket, o.key))) allowed.push(o.key);
      else errors.push({ key: o.key, code: 'AccessDenied', message: 'Access Denied' });
    }
    const deleted =
      allowed.length > 0 ? await this.#objects.deleteObjects(bucket, allowed) : { deleted: [], blobIds: [] };
    for (const id of deleted.blobIds) this.#discard(id);
    const versions = new Map(request.objects.map((o) => [o.key, o.versionId]));
    return xml(
      renderDeleteResult({
        deleted: request.quiet
          ? []
          : deleted.deleted.map((k) => {
              const v = versions.get(k);
              return v !== undefined ? { key: k, versionId: v } : { key: k };
            }),
        errors,
      }),
    );
  }

  // ---- multipart ---------------------------------------------------------------------------

  async #createMultipartUpload(x: S3Exchange, bucket: string, key: string): Promise<S3Reply> {
    await this.#requireBucket(bucket);
    const algorithm = header(x.req, 'x-amz-checksum-algorithm')?.toUpperCase();
    const uploadId = await this.#backend.createMultipartUpload();
    const tags = this.#tagsOf(x);
    try {
      await this.#objects.createMultipartUpload(bucket, key, uploadId, {
        contentType: header(x.req, 'content-type') ?? null,
        contentHeaders: contentHeadersOf(x.req),
        userMetadata: userMetadataOf(x.req),
        ...(tags ? { tags } : {}),
        initiatorArn: x.caller!.who.principal.arn,
        ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
      });
    } catch (error) {
      await this.#backend.abortMultipartUpload(uploadId).catch(() => {});
      throw error;
    }
    return xml(
      renderInitiateMultipartUpload({ bucket, key, uploadId }),
      algorithm ? { 'x-amz-checksum-algorithm': algorithm } : {},
    );
  }

  async #uploadPart(x: S3Exchange, s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    const uploadId = s3.uploadId!;
    await this.#objects.requireUpload(bucket, key, uploadId);
    const { source, options } = uploadBody(x.req, x.caller!);
    const part = await this.#backend.putPart(uploadId, s3.partNumber!, source, options);
    await this.#objects.recordPart(bucket, key, uploadId, part);
    return { status: 200, headers: { etag: quote(part.etag), ...this.#checksumHeaders(part) } };
  }

  async #uploadPartCopy(x: S3Exchange, s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    const uploadId = s3.uploadId!;
    await this.#objects.requireUpload(bucket, key, uploadId);
    const source = await this.#copySource(x, s3);
    const rangeHeader = header(x.req, 'x-amz-copy-source-range');
    let range: { start: number; end: number } | undefined;
    if (rangeHeader !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
      if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= source.size) {
        throw new S3Error('InvalidRange', 'The x-amz-copy-source-range is not within the source object.', {
          details: { RangeRequested: rangeHeader.slice(0, 100), ActualObjectSize: source.size },
        });
      }
      range = { start: Number(m[1]), end: Number(m[2]) };
    }
    const stream = await this.#backend.get(source.blobId, range);
    const size = range ? range.end - range.start + 1 : source.size;
    const part = await this.#backend.putPart(uploadId, s3.partNumber!, stream, { expectedSize: size });
    await this.#objects.recordPart(bucket, key, uploadId, part);
    return xml(
      renderCopyResult({ kind: 'CopyPartResult', lastModified: part.lastModified, etag: part.etag }),
    );
  }

  async #completeMultipartUpload(
    x: S3Exchange,
    s3: S3Request,
    bucket: string,
    key: string,
  ): Promise<S3Reply> {
    const uploadId = s3.uploadId!;
    const body = await readSmallBody(x.req, x.caller!, XML_BODY_LIMITS.completeMultipartUpload);
    const parts = parseCompleteMultipartUpload(body).map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
    const minPartSize = this.#minPartSize !== undefined ? { minPartSize: this.#minPartSize } : {};
    const conditions = writeConditions(x.req);
    // S3 checks the order before anything else (a misordered list is InvalidPartOrder even
    // when a part is also too small).
    for (let i = 1; i < parts.length; i++) {
      if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) {
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        );
      }
    }
    const { upload } = await this.#objects.checkCompletion(bucket, key, uploadId, parts, minPartSize);
    const blob = await this.#backend.completeMultipartUpload(uploadId, parts, minPartSize);
    const result = await this.#commit(blob, () =>
      this.#objects.completeMultipartUpload(upload, blob, conditions ? { conditions } : {}),
    );
    const host = header(x.req, 'host') ?? 'localhost';
    const scheme = x.secure ? 'https' : 'http';
    const location =
      s3.addressing === 'virtual-host'
        ? `${scheme}://${host}/${encodeURI(key)}`
        : `${scheme}://${host}/${bucket}/${encodeURI(key)}`;
    return xml(renderCompleteMultipartUpload({ location, bucket, key, etag: result.object.etag }));
  }

  async #abortMultipartUpload(s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    const uploadId = s3.uploadId!;
    await this.#objects.abortMultipartUpload(bucket, key, uploadId);
    await this.#backend.abortMultipartUpload(uploadId).catch((error: unknown) => {
      if ((error as S3Error).s3Code !== 'NoSuchUpload') throw error;
    });
    return { status: 204 };
  }

  async #listParts(s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    const uploadId = s3.uploadId!;
    const partNumberMarker = optionalInt(s3.query.get('part-number-marker'), 'part-number-marker') ?? 0;
    const maxParts = Math.min(optionalInt(s3.query.get('max-parts'), 'max-parts') ?? 1000, 1000);
    const page = await this.#objects.listParts(bucket, key, uploadId, { partNumberMarker, maxParts });
    const owner = this.#owner(page.upload.initiatorArn);
    return xml(
      renderListParts({
        bucket,
        key,
        uploadId,
        partNumberMarker,
        nextPartNumberMarker: page.nextPartNumberMarker,
        maxParts,
        isTruncated: page.isTruncated,
        initiator: owner,
        owner,
        parts: page.parts.map((p) => ({
          partNumber: p.partNumber,
          lastModified: new Date(p.lastModified),
          etag: p.etag,
          size: p.size,
          checksums: p.checksums,
        })),
      }),
    );
  }

  // ---- object tagging ----------------------------------------------------------------------

  async #getObjectTagging(s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    this.#checkVersion(s3);
    const tags = await this.#objects.getObjectTagging(bucket, key);
    return xml(renderTagging(tags), s3.versionId !== undefined ? { 'x-amz-version-id': 'null' } : {});
  }

  async #putObjectTagging(x: S3Exchange, s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    this.#checkVersion(s3);
    const body = await readSmallBody(x.req, x.caller!, XML_BODY_LIMITS.tagging);
    const tags = parseTagging(body);
    await this.#objects.putObjectTagging(bucket, key, Object.fromEntries(tags));
    return { status: 200 };
  }

  async #deleteObjectTagging(s3: S3Request, bucket: string, key: string): Promise<S3Reply> {
    this.#checkVersion(s3);
    await this.#objects.putObjectTagging(bucket, key, {});
    return { status: 204 };
  }

  // ---- responses -----------------------------------------------------------------------------

  async #send(x: S3Exchange, reply: S3Reply): Promise<void> {
    try {
      await this.#sendReply(x, reply);
    } finally {
      // Closed whatever happened: headers that fail validation, a client gone, a short read.
      if (reply.file !== undefined) closeSync(reply.file.fd);
    }
  }

  async #sendReply(x: S3Exchange, reply: S3Reply): Promise<void> {
    const { res, req } = x;
    // A body the operation did not read (an error path, or a GET with a body) would be parsed
    // as the next request: close the connection instead.
    if (!req.complete && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'])) {
      res.setHeader('connection', 'close');
    }
    const headers = reply.headers ?? {};
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (reply.body !== undefined) {
      const body = Buffer.from(reply.body, 'utf8');
      if (!res.hasHeader('content-type')) res.setHeader('content-type', XML);
      res.setHeader('content-length', body.length);
      res.writeHead(reply.status);
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (reply.bytes !== undefined) {
      res.writeHead(reply.status);
      res.end(reply.bytes);
      return;
    }
    if (reply.file !== undefined) {
      const { fd, start, length } = reply.file;
      try {
        res.writeHead(reply.status);
        await sendFileRange(res, fd, start, length);
      } catch (error) {
        // Headers are gone: the client sees a short body (its length check fails), as with S3.
        this.#log.debug('S3 response ended early', { requestId: x.requestId, error });
        res.destroy();
      }
      return;
    }
    if (reply.stream) {
      res.writeHead(reply.status);
      try {
        await pipeline(reply.stream, res);
      } catch (error) {
        // Headers are gone: the client sees a short body (its length check fails), as with S3.
        this.#log.debug('S3 response stream ended early', { requestId: x.requestId, error });
        res.destroy();
      }
      return;
    }
    if (!res.hasHeader('content-length') && reply.status !== 204 && reply.status !== 304) {
      res.setHeader('content-length', 0);
    }
    res.writeHead(reply.status);
    res.end();
  }

  #sendError(x: S3Exchange, error: S3Error): void {
    const { res, req } = x;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = Buffer.from(renderS3ErrorXml(error, x.requestId, this.#errorResource(x)), 'utf8');
    if (!req.complete) res.setHeader('connection', 'close');
    res.setHeader('content-type', XML);
    if (error.status === 304 || req.method === 'HEAD') {
      res.writeHead(error.status);
      res.end();
      return;
    }
    res.setHeader('content-length', body.length);
    res.writeHead(error.status);
    res.end(body);
  }

  #errorResource(x: S3Exchange): string | undefined {
    const url = x.req.url ?? '/';
    const q = url.indexOf('?');
    return q >= 0 ? url.slice(0, q) : url;
  }
}

function xml(body: string, headers: Record<string, string | number> = {}): S3Reply {
  return { status: 200, headers: { 'content-type': XML, ...headers }, body };
}
