import {
  algorithmsToCompute,
  ChecksumCalculator,
  type ChecksumDigests,
  encodeChecksums,
  type ExpectedChecksums,
  verifyChecksums,
} from '../s3/checksums.js';
import { S3Error } from '../s3/s3-errors.js';
import { MAX_PUT_SIZE, type PutOptions } from './object-backend.js';

/**
 * Watches the bytes of one write as they stream past, for any backend: counts them against
 * the declared and maximum sizes (failing as soon as a limit is crossed, before the rest is
 * read) and computes MD5 plus the requested checksums in the same pass. `finish` checks the
 * totals and the client's claims; a backend publishes the blob only if it returns.
 */
export class IngestMeter {
  #size = 0;
  readonly #calculator: ChecksumCalculator;
  readonly #options: PutOptions;
  readonly #limit: number;

  constructor(options: PutOptions = {}) {
    this.#options = options;
    this.#limit = options.maxSize ?? MAX_PUT_SIZE;
    const expected = typeof options.expected === 'object' ? options.expected : {};
    this.#calculator = new ChecksumCalculator(algorithmsToCompute(expected, options.checksumAlgorithms));
    if (options.expectedSize !== undefined) {
      if (!Number.isSafeInteger(options.expectedSize) || options.expectedSize < 0) {
        throw new S3Error(
          'InvalidArgument',
          `The declared length ${options.expectedSize} is not a valid size.`,
        );
      }
      if (options.expectedSize > this.#limit) {
        throw new S3Error('EntityTooLarge', undefined, {
          details: { ProposedSize: options.expectedSize, MaxSizeAllowed: this.#limit },
        });
      }
    }
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** Accounts for one chunk; throws when it crosses the declared or maximum size. */
  observe(chunk: Uint8Array): void {
    this.#size += chunk.length;
    if (this.#size > this.#limit) {
      throw new S3Error('EntityTooLarge', undefined, { details: { MaxSizeAllowed: this.#limit } });
    }
    const declared = this.#options.expectedSize;
    if (declared !== undefined && this.#size > declared) {
      throw new S3Error('InvalidRequest', `The body holds more than the ${declared} bytes declared.`);
    }
    this.#calculator.update(chunk);
  }

  /**
   * Ends the write: checks the size against the declared length (fewer -> IncompleteBody) and
   * the checksums against the client's claims (resolving `expected` now, after trailers).
   */
  finish(): { size: number; etag: string; digests: ChecksumDigests; checksums: Record<string, string> } {
    const declared = this.#options.expectedSize;
    if (declared !== undefined && this.#size !== declared) {
      throw new S3Error(
        'IncompleteBody',
        `The body ended after ${this.#size} bytes; ${declared} were declared.`,
      );
    }
    const digests = this.#calculator.digest();
    const expected: ExpectedChecksums =
      typeof this.#options.expected === 'function'
        ? this.#options.expected()
        : (this.#options.expected ?? {});
    for (const alg of algorithmsToCompute(expected)) {
      if (!digests[alg]) {
        throw new S3Error(
          'InvalidRequest',
          `The ${alg} checksum was sent but not announced before the body (x-amz-trailer or x-amz-sdk-checksum-algorithm).`,
        );
      }
    }
    verifyChecksums(expected, digests);
    const { MD5, ...rest } = digests;
    return { size: this.#size, etag: MD5!.toString('hex'), digests, checksums: encodeChecksums(rest) };
  }
}

/**
 * Keeps an error that a source stream raises before the backend starts reading it (a request
 * body cut off while the temporary file is being opened) from becoming an uncaught 'error'
 * event. The error stays recorded on the stream and surfaces when it is iterated. Call
 * synchronously on entry to a write; call the returned function when done.
 */
export function holdEarlyStreamErrors(source: AsyncIterable<Uint8Array>): () => void {
  const emitter = source as Partial<NodeJS.EventEmitter>;
  if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') return () => {};
  const ignore = () => {};
  emitter.on('error', ignore);
  return () => emitter.off!('error', ignore);
}
