import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { assertValidObjectKey } from './bucket-name.js';
import { S3Error } from './s3-errors.js';

/**
 * S3's XML request bodies: parsing what clients send (CompleteMultipartUpload, Delete,
 * CreateBucketConfiguration, Tagging). Responses are rendered by `s3-xml-responses.ts`.
 *
 * Parsing is hardened: bodies are size-limited, must be UTF-8, and may not carry a DTD
 * (no entity declarations, hence no entity expansion or external entities); only XML's five
 * predefined entities and numeric character references are decoded. Anything malformed is
 * MalformedXML, as S3 answers.
 */

/** The S3 namespace every response document declares. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Size limits of request bodies, bytes. */
export const XML_BODY_LIMITS = {
  completeMultipartUpload: 4 * 1024 * 1024,
  delete: 8 * 1024 * 1024,
  createBucketConfiguration: 64 * 1024,
  tagging: 64 * 1024,
} as const;

/** S3 allows at most 1,000 keys in one DeleteObjects request. */
export const MAX_DELETE_KEYS = 1000;

/**
 * Reads a request body of at most `maxBytes`, failing as soon as it is exceeded (so a client
 * cannot make the server buffer an unbounded body). Over the limit -> MaxMessageLengthExceeded.
 */
export async function readBoundedBody(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > maxBytes)
      throw new S3Error('MaxMessageLengthExceeded', `The request body exceeds ${maxBytes} bytes.`);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return Buffer.concat(chunks, size);
}

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  // Object keys may begin or end with spaces: text is never trimmed.
  trimValues: false,
  // Entities are decoded below, by our own strict rules.
  processEntities: false,
  htmlEntities: false,
  isArray: (name) => name === 'Part' || name === 'Object' || name === 'Tag',
});

type XmlNode = string | { [name: string]: XmlNode | XmlNode[] } | XmlNode[];

const malformed = (detail?: string) =>
  new S3Error(
    'MalformedXML',
    detail
      ? `The XML you provided was not well-formed or did not validate against our published schema: ${detail}.`
      : undefined,
  );

/** Decodes the five predefined entities and numeric character references; others are errors. */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&([^;&\s]{0,10});?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw malformed('an unterminated entity reference');
    switch (name) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!m) throw malformed(`the entity &${name}; is not allowed`);
    const cp = m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
    // XML 1.0 Char production: no NUL, no surrogates, nothing past U+10FFFF.
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff) {
      throw malformed(`&${name}; is not an XML character`);
    }
    return String.fromCodePoint(cp);
  });
}

/** Parses and checks a body: size, UTF-8, no DTD, well-formed, expected root element. */
function parseDocument(body: string | Uint8Array, root: string, maxBytes: number): Record<string, XmlNode> {
  let text: string;
  if (typeof body === 'string') {
    if (Buffer.byteLength(body) > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    text = body;
  } else {
    if (body.length > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw malformed('the body is not UTF-8');
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new S3Error('MissingRequestBodyError');
  // No DTD at all: this rules out entity expansion ("billion laughs") and external entities.
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(text)) throw malformed('DTDs are not allowed');
  if (XMLValidator.validate(text) !== true) throw malformed();
  const doc = parser.parse(text) as Record<string, XmlNode>;
  const rootNode = doc[root];
  const roots = Object.keys(doc).filter((k) => k !== '#text');
  if (roots.length !== 1 || rootNode === undefined) throw malformed(`the root element must be <${root}>`);
  if (typeof rootNode === 'string') return {};
  if (Array.isArray(rootNode)) throw malformed(`one <${root}> element expected`);
  return rootNode as Record<string, XmlNode>;
}

/** The decoded text of an element that must hold text only (absent -> undefined). */
function text(node: XmlNode | XmlNode[] | undefined, name: string): string | undefined {
  if (node === undefined) return undefined;
  if (typeof node === 'string') return decodeEntities(node);
  if (Array.isArray(node)) throw malformed(`<${name}> may appear once`);
  if (Object.keys(node).length === 0) return '';
  throw malformed(`<${name}> must contain text`);
}

function elements(node: XmlNode | XmlNode[] | undefined, name: string): Record<string, XmlNode>[] {
  if (node === undefined) return [];
  const list = Array.isArray(node) ? node : [node];
  return list.map((n) => {
    if (typeof n === 'string') {
      if (n.trim() === '') return {};
      throw malformed(`<${name}> must contain elements`);
    }
    if (Array.isArray(n)) throw malformed(`<${name}> nested lists`);
    return n;
  });
}

/** A part as listed in a CompleteMultipartUpload body. */
export interface CompleteMultipartPart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256', string>>;
}

/**
 * Parses a CompleteMultipartUpload body into its parts, in document order (the backend
 * checks the order: InvalidPartOrder). No parts, more than 10,000, or a part without a valid
 * PartNumber or ETag -> MalformedXML.
 */
export function parseCompleteMultipartUpload(body: string | Uint8Array): CompleteMultipartPart[] {
  const root = parseDocument(body, 'CompleteMultipartUpload', XML_BODY_LIMITS.completeMultipartUpload);
  const parts = elements(root.Part, 'Part');
  if (parts.length === 0) throw malformed('at least one <Part> is required');
  if (parts.length > 10_000) throw malformed('at most 10,000 parts');
  return parts.map((p) => {
    const n = text(p.PartNumber, 'PartNumber');
    const etag = text(p.ETag, 'ETag');
    if (n === undefined || !/^\s*\d{1,5}\s*$/.test(n) || Number(n) < 1 || Number(n) > 10_000) {
      throw malformed('every <Part> needs a <PartNumber> from 1 to 10000');
    }
    if (etag === undefined || etag.trim() === '') throw malformed('every <Part> needs an <ETag>');
    const checksums: CompleteMultipartPart['checksums'] = {};
    for (const alg of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
      const v = text(p[`Checksum${alg}`], `Checksum${alg}`);
      if (v !== undefined) checksums[alg] = v.trim();
    }
    return { partNumber: Number(n), etag: etag.trim(), checksums };
  });
}

/** A DeleteObjects request. */
export interface DeleteRequest {
  objects: { key: string; versionId?: string }[];
  quiet: boolean;
}

/**
 * Parses a DeleteObjects (`POST ?delete`) body. No objects, more than 1,000, or an object
 * without a Key -> MalformedXML; an invalid key -> the key validation's error.
 */
export function parseDeleteRequest(body: string | Uint8Array): DeleteRequest {
  const root = parseDocument(body, 'Delete', XML_BODY_LIMITS.delete);
  const objects = elements(root.Object, 'Object');
  if (objects.length === 0) throw malformed('at least one <Object> is required');
  if (objects.length > MAX_DELETE_KEYS) throw malformed(`at most ${MAX_DELETE_KEYS} objects per request`);
  const quietText = text(root.Quiet, 'Quiet')?.trim().toLowerCase();
  if (quietText !== undefined && quietText !== 'true' && quietText !== 'false') {
    throw malformed('<Quiet> must be true or false');
  }
  return {
    quiet: quietText === 'true',
    objects: objects.map((o) => {
      const key = text(o.Key, 'Key');
      if (key === undefined || key === '') throw malformed('every <Object> needs a <Key>');
      assertValidObjectKey(key);
      const versionId = text(o.VersionId, 'VersionId');
      return versionId === undefined ? { key } : { key, versionId };
    }),
  };
}

/**
 * Parses a CreateBucket body (optional: an empty body means the default region). Returns the
 * LocationConstraint, if any.
 */
export function parseCreateBucketConfiguration(body: string | Uint8Array): { locationConstraint?: string } {
  if ((typeof body === 'string' ? body : Buffer.from(body).toString('latin1')).trim() === '') return {};
  const root = parseDocument(body, 'CreateBucketConfiguration', XML_BODY_LIMITS.createBucketConfiguration);
  const location = text(root.LocationConstraint, 'LocationConstraint')?.trim();
  if (location !== undefined && !/^[a-z0-9-]{0,64}$/.test(location)) {
    throw new S3Error('InvalidLocationConstraint');
  }
  return location ? { locationConstraint: location } : {};
}

/**
 * Parses a Tagging body (PutObjectTagging, PutBucketTagging) with S3's limits: keys 1–128
 * and values 0–256 characters, unique keys, at most `maxTags` (10 for objects, 50 for
 * buckets). Violations -> InvalidTag; a tag without Key -> MalformedXML.
 */
export function parseTagging(body: string | Uint8Array, maxTags = 10): Map<string, string> {
  const root = parseDocument(body, 'Tagging', XML_BODY_LIMITS.tagging);
  const tagSets = elements(root.TagSet, 'TagSet');
  if (tagSets.length !== 1) throw malformed('<Tagging> needs exactly one <TagSet>');
  const tags = new Map<string, string>();
  for (const tag of elements(tagSets[0]!.Tag, 'Tag')) {
    const key = text(tag.Key, 'Key');
    const value = text(tag.Value, 'Value') ?? '';
    if (key === undefined) throw malformed('every <Tag> needs a <Key>');
    if (key.length === 0 || key.length > 128)
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if (value.length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (tags.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags.set(key, value);
  }
  if (tags.size > maxTags) throw new S3Error('BadRequest', `Object tags cannot be greater than ${maxTags}`);
  return tags;
}
