import { s3Arn } from '@aiam/policy';
import { InputError, NotFoundError } from '../errors.js';
import { assertValidBucketName } from '../s3/bucket-name.js';
import { S3Error } from '../s3/s3-errors.js';
import type { Bucket } from '../store/data-plane-types.js';
import type { Store } from '../store/store.js';
import type { Tags } from '../store/store-types.js';
import { checkPolicyDocument, type PolicyDocumentInput } from './policy-documents.js';

/** Options of {@link BucketService}. */
export interface BucketServiceOptions {
  readonly store: Store;
}

// S3 tagging limits: 50 tags on a bucket, keys 1..128 and values 0..256 characters.
const MAX_BUCKET_TAGS = 50;

/** Checks a tag set against S3's rules (S3 InvalidTag). */
export function checkS3Tags(tags: Tags, max: number): void {
  const entries = Object.entries(tags ?? {});
  if (entries.length > max) throw new S3Error('InvalidTag', `At most ${max} tags are allowed.`);
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 128 || typeof v !== 'string' || v.length > 256 || k.startsWith('aws:')) {
      throw new S3Error(
        'InvalidTag',
        `Tag "${k.slice(0, 128)}" is invalid: keys are 1..128 characters and may not start with "aws:", values 0..256.`,
      );
    }
  }
}

/** Every Resource/NotResource string of a policy document. */
function resourcesOf(text: string): string[] {
  const doc = JSON.parse(text) as { Statement?: unknown };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  const out: string[] = [];
  for (const s of statements) {
    if (!s || typeof s !== 'object') continue;
    for (const field of ['Resource', 'NotResource']) {
      const v = (s as Record<string, unknown>)[field];
      for (const r of Array.isArray(v) ? v : [v]) if (typeof r === 'string') out.push(r);
    }
  }
  return out;
}

/**
 * Bucket operations of the S3 data plane: create and delete (only when empty), head, list,
 * tags, and the bucket policy. The policy is the store's resource policy for
 * `arn:aws:s3:::BUCKET`, so the access model evaluates it with the identity policies.
 * Errors carry S3-mappable codes (`toS3Error`): ERR_NO_SUCH_BUCKET, ERR_BUCKET_NOT_EMPTY,
 * ERR_BUCKET_ALREADY_EXISTS, ERR_BUCKET_ALREADY_OWNED_BY_YOU, ERR_POLICY_INVALID (MalformedPolicy),
 * ERR_NO_SUCH_BUCKET_POLICY; bad names, tags and missing tag sets throw S3Errors (InvalidBucketName,
 * InvalidTag, NoSuchTagSet).
 */
export class BucketService {
  readonly #store: Store;

  constructor(options: BucketServiceOptions) {
    this.#store = options.store;
  }

  /** CreateBucket. */
  async createBucket(name: string, ownerArn: string, options: { tags?: Tags } = {}): Promise<Bucket> {
    assertValidBucketName(name);
    if (options.tags) checkS3Tags(options.tags, MAX_BUCKET_TAGS);
    return this.#store.createBucket({ name, ownerArn, tags: options.tags });
  }

  /** HeadBucket: the bucket, or NotFoundError ERR_NO_SUCH_BUCKET. */
  async headBucket(name: string): Promise<Bucket> {
    const b = await this.#store.getBucket(name);
    if (!b) throw new NotFoundError(`bucket "${name}" does not exist`, { code: 'ERR_NO_SUCH_BUCKET' });
    return b;
  }

  /** ListBuckets, by name. */
  listBuckets(): Promise<Bucket[]> {
    return this.#store.listBuckets();
  }

  /**
   * DeleteBucket: only an empty bucket (else ConflictError ERR_BUCKET_NOT_EMPTY). Its policy
   * goes with it; the returned upload ids are to be aborted in the object backend.
   */
  deleteBucket(name: string): Promise<{ abortedUploadIds: string[] }> {
    return this.#store.deleteBucket(name);
  }

  /**
   * PutBucketPolicy: validated as a resource policy (ERROR findings: ERR_POLICY_INVALID, S3
   * MalformedPolicy), and every Resource must lie in this bucket, as S3 requires. Returns the
   * non-blocking findings.
   */
  async putBucketPolicy(bucket: string, document: PolicyDocumentInput): Promise<{ findings: unknown[] }> {
    await this.headBucket(bucket);
    const { text, findings } = checkPolicyDocument(document, 'resource', `policy of bucket ${bucket}`);
    const own = s3Arn(bucket);
    for (const r of resourcesOf(text)) {
      if (r !== own && !r.startsWith(`${own}/`)) {
        throw new InputError(`Policy has invalid resource: "${r.slice(0, 200)}" is not in bucket ${bucket}`, {
          code: 'ERR_POLICY_INVALID',
        });
      }
    }
    await this.#store.putResourcePolicy(own, text);
    return { findings };
  }

  /** GetBucketPolicy: the document as stored, or NotFoundError ERR_NO_SUCH_BUCKET_POLICY. */
  async getBucketPolicy(bucket: string): Promise<string> {
    await this.headBucket(bucket);
    const p = await this.#store.getResourcePolicy(s3Arn(bucket));
    if (!p) throw new NotFoundError(`bucket ${bucket} has no policy`, { code: 'ERR_NO_SUCH_BUCKET_POLICY' });
    return p.document;
  }

  /** DeleteBucketPolicy; deleting a policy that does not exist succeeds, as in S3. */
  async deleteBucketPolicy(bucket: string): Promise<void> {
    await this.headBucket(bucket);
    await this.#store.transaction(async (tx) => {
      if (await tx.getResourcePolicy(s3Arn(bucket))) await tx.deleteResourcePolicy(s3Arn(bucket));
    });
  }

  /** GetBucketTagging, or S3 NoSuchTagSet when it has none. */
  async getBucketTagging(bucket: string): Promise<Tags> {
    const b = await this.headBucket(bucket);
    if (Object.keys(b.tags).length === 0)
      throw new S3Error('NoSuchTagSet', undefined, { details: { BucketName: bucket } });
    return b.tags;
  }

  /** PutBucketTagging (replaces the whole set). */
  async putBucketTagging(bucket: string, tags: Tags): Promise<Bucket> {
    checkS3Tags(tags, MAX_BUCKET_TAGS);
    return this.#store.putBucketTags(bucket, tags);
  }

  /** DeleteBucketTagging. */
  async deleteBucketTagging(bucket: string): Promise<void> {
    await this.#store.putBucketTags(bucket, {});
  }
}
