/**
 * IPv4 and IPv6 addresses and CIDR blocks for the `IpAddress` / `NotIpAddress` condition
 * operators (RFC 4632 for IPv4 CIDR, RFC 4291 section 2.2 for IPv6 text forms, including `::`
 * compression and a trailing dotted IPv4 part). Addresses are held as four 32-bit words so no
 * BigInt is needed; an IPv4 address uses the last word only.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress
 */
export interface IpAddressValue {
  readonly version: 4 | 6;
  /** Big-endian 32-bit words; IPv4 uses `words[3]`. */
  readonly words: readonly [number, number, number, number];
}

/** A CIDR block; an address without `/len` is a block of one (/32 or /128). */
export interface CidrBlock {
  readonly version: 4 | 6;
  readonly words: readonly [number, number, number, number];
  readonly prefixLength: number;
}

function parseIpv4Words(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    // No leading zeros: "010" is octal in some parsers, so it is refused rather than guessed.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value >>> 0;
}

function parseIpv6Words(text: string): [number, number, number, number] | undefined {
  if (text.length > 45 || text.length < 2) return undefined;
  let groups: number[] = [];
  let head = text;
  let tailV4: number | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = parseIpv4Words(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const want = tailV4 === undefined ? 8 : 6;
  const dbl = head.indexOf('::');
  if (dbl >= 0) {
    if (head.indexOf('::', dbl + 1) >= 0) return undefined;
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length >= want) return undefined;
    groups = [...left, ...new Array<number>(want - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== want) return undefined;
    groups = all;
  }
  if (tailV4 !== undefined) groups.push(tailV4 >>> 16, tailV4 & 0xffff);
  return [
    ((groups[0]! << 16) | groups[1]!) >>> 0,
    ((groups[2]! << 16) | groups[3]!) >>> 0,
    ((groups[4]! << 16) | groups[5]!) >>> 0,
    ((groups[6]! << 16) | groups[7]!) >>> 0,
  ];
}

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseIpAddress(text: string): IpAddressValue | undefined {
  if (text.includes(':')) {
    const words = parseIpv6Words(text);
    return words ? { version: 6, words } : undefined;
  }
  const v4 = parseIpv4Words(text);
  return v4 === undefined ? undefined : { version: 4, words: [0, 0, 0, v4] };
}

/** Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address; undefined when invalid. */
export function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  const addr = parseIpAddress(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return undefined;
  const max = addr.version === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash >= 0) {
    const len = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(len)) return undefined;
    prefixLength = Number(len);
    if (prefixLength > max) return undefined;
  }
  return { version: addr.version, words: addr.words, prefixLength };
}

function maskWord(word: number, bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return word >>> 0;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

/** True when `address` lies in `block` (same IP version, same leading `prefixLength` bits). */
export function cidrContains(block: CidrBlock, address: IpAddressValue): boolean {
  if (block.version !== address.version) return false;
  if (block.version === 4)
    return maskWord(block.words[3], block.prefixLength) === maskWord(address.words[3], block.prefixLength);
  for (let i = 0; i < 4; i++) {
    const bits = block.prefixLength - i * 32;
    if (maskWord(block.words[i]!, bits) !== maskWord(address.words[i]!, bits)) return false;
  }
  return true;
}
