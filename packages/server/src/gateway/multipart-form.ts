import { InputError } from '../errors.js';

/** One part of a multipart/form-data body. */
export interface FormPart {
  /** The field name from Content-Disposition. */
  readonly name: string;
  /** The file name, when the part is a file. */
  readonly filename?: string;
  /** The part's Content-Type, when given. */
  readonly contentType?: string;
  /** The part's bytes (a view into the body, not a copy). */
  readonly data: Buffer;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function refuse(message: string): never {
  throw new InputError(`The multipart body is malformed or ambiguous: ${message}.`, {
    code: 'ERR_INVALID_MULTIPART',
  });
}

/**
 * Splits `name=value; name="quoted"` parameters. Only plain tokens and simple quoted strings
 * are accepted: no backslash escapes and no RFC 2231/5987 `name*=` forms, which parsers
 * disagree on, so a field could be named one thing here and another upstream.
 */
export function parseHeaderParameters(input: string): { value: string; params: Map<string, string> } {
  const segments: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of input) {
    if (ch === '"') quoted = !quoted;
    if (ch === ';' && !quoted) {
      segments.push(current);
      current = '';
    } else current += ch;
  }
  if (quoted) refuse('an unterminated quoted string in a header');
  segments.push(current);
  const value = (segments.shift() ?? '').trim().toLowerCase();
  const params = new Map<string, string>();
  for (const segment of segments) {
    const eq = segment.indexOf('=');
    if (eq < 0) {
      if (segment.trim() === '') continue;
      refuse(`a header parameter without a value ('${segment.trim()}')`);
    }
    const key = segment.slice(0, eq).trim().toLowerCase();
    let val = segment.slice(eq + 1).trim();
    if (!TOKEN.test(key) || key.endsWith('*')) refuse(`an unsupported header parameter '${key}'`);
    if (val.startsWith('"')) {
      if (!val.endsWith('"') || val.length < 2) refuse('a badly quoted header parameter');
      val = val.slice(1, -1);
      if (val.includes('\\') || val.includes('"'))
        refuse('an escaped character in a quoted header parameter');
    } else if (!TOKEN.test(val)) refuse(`an unquoted header parameter value that is not a token ('${val}')`);
    if (params.has(key)) refuse(`the header parameter '${key}' twice`);
    params.set(key, val);
  }
  return { value, params };
}

/** The boundary of a `multipart/form-data` Content-Type, or an InputError. */
export function multipartBoundary(contentType: string): string {
  const { value, params } = parseHeaderParameters(contentType);
  if (value !== 'multipart/form-data') refuse(`expected multipart/form-data, got '${value}'`);
  const boundary = params.get('boundary');
  // RFC 2046 §5.1.1: 1 to 70 characters, not ending in a space.
  if (!boundary || boundary.length > 70 || boundary.endsWith(' ')) refuse('a missing or invalid boundary');
  return boundary;
}

/**
 * Parses a multipart/form-data body (RFC 7578) strictly: CRLF line ends, no preamble, no
 * epilogue beyond a final CRLF, exactly one Content-Disposition `form-data` with a `name`
 * per part, no Content-Transfer-Encoding, and no delimiter-like line that is not a
 * delimiter. Anything a lenient parser upstream might read differently is refused.
 */
export function parseMultipartForm(body: Buffer, contentType: string): FormPart[] {
  const boundary = multipartBoundary(contentType);
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  if (!body.subarray(0, dash.length).equals(dash)) refuse('the body does not start with the boundary');
  const parts: FormPart[] = [];
  let pos = dash.length;
  for (;;) {
    // After a delimiter: "--" closes the body, CRLF starts a part.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) {
      const rest = body.subarray(pos + 2);
      if (rest.length !== 0 && !(rest.length === 2 && rest[0] === 0x0d && rest[1] === 0x0a)) {
        refuse('content after the closing boundary');
      }
      break;
    }
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) refuse('a boundary not followed by CRLF');
    pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(delimiter, pos);
    if (next < 0) refuse('a part without a closing boundary');
    let headerText: string;
    let dataStart: number;
    if (headerEnd >= 0 && headerEnd < next) {
      headerText = body.subarray(pos, headerEnd).toString('latin1');
      dataStart = headerEnd + 4;
    } else if (body[pos] === 0x0d && body[pos + 1] === 0x0a) {
      headerText = '';
      dataStart = pos + 2;
    } else refuse('a part whose headers do not end with an empty line');
    parts.push(parsePart(headerText, body.subarray(dataStart, next)));
    pos = next + delimiter.length;
  }
  // Every occurrence of the boundary must be one of the delimiters just used; one hiding
  // behind a bare LF would split the body differently for a lenient parser.
  let occurrences = 0;
  for (let i = body.indexOf(dash); i >= 0; i = body.indexOf(dash, i + 1)) occurrences++;
  if (occurrences !== parts.length + 1) refuse('the boundary appears where it is not a delimiter');
  return parts;
}

function parsePart(headerText: string, data: Buffer): FormPart {
  const headers = new Map<string, string>();
  for (const line of headerText === '' ? [] : headerText.split('\r\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) refuse('a folded part header');
    const colon = line.indexOf(':');
    if (colon <= 0) refuse('a part header without a name');
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) refuse(`an invalid part header name '${name}'`);
    if (headers.has(name)) refuse(`the part header '${name}' twice`);
    headers.set(name, line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition');
  if (disposition === undefined) refuse('a part without Content-Disposition');
  if (headers.has('content-transfer-encoding')) refuse('a part with Content-Transfer-Encoding');
  const { value, params } = parseHeaderParameters(disposition);
  if (value !== 'form-data') refuse(`a part disposition '${value}' (expected form-data)`);
  const name = params.get('name');
  if (name === undefined) refuse('a part without a name');
  const filename = params.get('filename');
  const contentType = headers.get('content-type');
  return {
    name,
    data,
    ...(filename !== undefined ? { filename } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
  };
}
