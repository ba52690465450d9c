import { createHash } from 'node:crypto';

/**
 * Seeded randomness and the original's id shapes. Everything the fixture writes comes from here,
 * never from Math.random or the clock, so the same seed gives byte-identical databases.
 */

/** sfc32: small, fast and good enough; seeded from the SHA-256 of the caller's parts. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...parts: string[]) {
    const digest = createHash('sha256').update(parts.join('\u0000')).digest();
    this.a = digest.readUInt32LE(0);
    this.b = digest.readUInt32LE(4);
    this.c = digest.readUInt32LE(8);
    this.d = digest.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4_294_967_296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  hex(length: number): string {
    let out = '';
    while (out.length < length) out += this.nextUint32().toString(16).padStart(8, '0');
    return out.slice(0, length);
  }

  base64url(length: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.nextUint32() & 63];
    return out;
  }
}

/**
 * `uuid6.uuid7().hex`: 48-bit unix milliseconds, version nibble 7, 12 random bits, variant
 * nibble 8..b, 62 random bits; 32 lowercase hex without hyphens (research §9). Ids made at
 * increasing milliseconds sort in time order, which the original's lineage queries rely on (§4.4).
 */
export function uuid7Hex(random: SeededRandom, atMs: number): string {
  const variant = '89ab'[random.nextUint32() & 3] ?? '8';
  return `${atMs.toString(16).padStart(12, '0')}7${random.hex(3)}${variant}${random.hex(15)}`;
}

/** `uuid.uuid4()` with hyphens: the refresh token_id shape (research §8.3). */
export function uuid4Hyphenated(random: SeededRandom): string {
  const hex = random.hex(32).split('');
  hex[12] = '4';
  hex[16] = '89ab'[random.nextUint32() & 3] ?? '8';
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `json.dumps(obj, sort_keys=True)`-like canonical text, for content hashes (research §2.5). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${canonicalJson(v)}`).join(', ')}}`;
}

/** A per-run clock: strictly increasing milliseconds, so event ids and timestamps agree in order. */
export class RunClock {
  constructor(
    private nowMs: number,
    private readonly random: SeededRandom,
  ) {}

  /** Machine work: a few milliseconds to a few seconds. */
  tick(): number {
    this.nowMs += this.random.int(3, 2500);
    return this.nowMs;
  }

  /** A person thinking, or a provider call: seconds to minutes. */
  wait(): number {
    this.nowMs += this.random.int(8_000, 600_000);
    return this.nowMs;
  }

  get ms(): number {
    return this.nowMs;
  }
}
