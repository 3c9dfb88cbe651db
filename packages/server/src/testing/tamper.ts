/**
 * `text` with its second-to-last character changed and its last set to `A`: a base64 or
 * base64url string (a token, a signature) that decodes to other bytes. The second-to-last
 * character always carries six bits of data; the last may carry only padding bits, and a fixed
 * replacement (say `AA`) is the original itself now and then, which made tests flaky.
 */
export function tamperedTail(text: string): string {
  return `${text.slice(0, -2)}${text.at(-2) === 'A' ? 'B' : 'A'}A`;
}
