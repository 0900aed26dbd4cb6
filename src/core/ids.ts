import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { InvalidInputError } from './errors.js';

/** Session ids are used verbatim as file names and keys, so they are checked, never sanitised. */
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function assertSessionId(id: unknown, field = 'sessionId'): asserts id is string {
  if (typeof id !== 'string') throw new InvalidInputError(field, `must be a string, got ${typeOf(id)}`);
  if (!SESSION_ID.test(id) || id === '.' || id === '..') {
    throw new InvalidInputError(
      field,
      `must be 1-128 characters of A-Z a-z 0-9 . _ : - and not "." or ".." (got ${describeId(id)})`,
    );
  }
}

export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID.test(id) && id !== '.' && id !== '..';
}

function describeId(id: string): string {
  if (id.length === 0) return 'an empty string';
  if (id.length > 128) return `${id.length} characters`;
  return JSON.stringify(id);
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Random bytes come from a pooled CSPRNG buffer: one OS call per 256 ids instead of one per id. */
const POOL = Buffer.allocUnsafe(4096);
let poolAt = POOL.length;
function takeRandom(into: Buffer, at: number, n: number): void {
  if (poolAt + n > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  POOL.copy(into, at, poolAt, poolAt + n);
  poolAt += n;
}

let lastMs = -1;
let seqInMs = 0;

/**
 * UUIDv7 (RFC 9562): 48-bit ms timestamp, then a 12-bit counter and random bits. Ids made in one
 * process sort in creation order even within one millisecond and if the clock steps back.
 */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    ms = lastMs;
    seqInMs++;
    if (seqInMs > 0xfff) {
      ms = ++lastMs;
      seqInMs = 0;
    }
  } else {
    seqInMs = 0;
  }
  lastMs = ms;
  const b = Buffer.allocUnsafe(16);
  takeRandom(b, 6, 10);
  b[0] = (ms / 2 ** 40) & 0xff;
  b[1] = (ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((seqInMs >>> 8) & 0x0f);
  b[7] = seqInMs & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** 256 bits from the OS CSPRNG, URL-safe. */
export function newShareToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashShareToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
