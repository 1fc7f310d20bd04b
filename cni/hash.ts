// FNV-1a (64-bit) for names and allocation offsets. node:crypto costs ~5-10 ms
// of start-up in the compiled binary; these hashes need spread, not secrecy.
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

export function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(b)) * PRIME) & MASK;
  return h;
}

/** `n` hex digits (n ≤ 16) of the hash of `s`. */
export function hashHex(s: string, n: number): string {
  return fnv1a64(s).toString(16).padStart(16, '0').slice(0, n);
}
