import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt's CPU/memory cost N for new hashes (~50 ms here); tests pass a smaller one. */
export const DEFAULT_SCRYPT_COST = 16384;
const BLOCK_SIZE = 8; // r
const PARALLELISM = 1; // p
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** A parsed `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>` string. */
export interface SecretHash {
  readonly cost: number;
  readonly blockSize: number;
  readonly parallelism: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Runs scrypt off the event loop (libuv pool), with enough memory for the given parameters. */
function derive(secret: Buffer, salt: Buffer, keyLength: number, cost: number, blockSize: number, parallelism: number): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) would refuse N ≥ 32768 at r = 8.
  const maxmem = 256 * cost * blockSize + (1 << 20);
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keyLength, { N: cost, r: blockSize, p: parallelism, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** True when `cost` is a power of two scrypt accepts and we are willing to spend. */
export function isValidScryptCost(cost: number): boolean {
  return Number.isInteger(cost) && cost >= 2 && cost <= 1 << 20 && (cost & (cost - 1)) === 0;
}

/** Hashes a secret into the registry's `scrypt$…` form with a fresh random salt. */
export async function hashSecret(secret: Buffer, cost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, HASH_BYTES, cost, BLOCK_SIZE, PARALLELISM);
  return ['scrypt', cost, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Parses a `scrypt$…` string; returns what is wrong with it as a string instead of throwing. */
export function parseSecretHash(text: string): SecretHash | string {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'expected "scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>"';
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const cost = Number(n);
  const blockSize = Number(r);
  const parallelism = Number(p);
  if (!isValidScryptCost(cost)) return `N must be a power of two from 2 to 2^20, got "${n}"`;
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 32) return `r must be an integer from 1 to 32, got "${r}"`;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 16) return `p must be an integer from 1 to 16, got "${p}"`;
  if (!BASE64.test(salt)) return 'the salt is not base64';
  if (!BASE64.test(hash)) return 'the hash is not base64';
  const hashBytes = Buffer.from(hash, 'base64');
  if (hashBytes.length < 16 || hashBytes.length > 64) return `the hash must be 16–64 bytes, got ${hashBytes.length}`;
  return { cost, blockSize, parallelism, salt: Buffer.from(salt, 'base64'), hash: hashBytes };
}

/** True when `secret` hashes to `stored`; the final comparison is constant-time. */
export async function verifySecret(stored: SecretHash, secret: Buffer): Promise<boolean> {
  const candidate = await derive(secret, stored.salt, stored.hash.length, stored.cost, stored.blockSize, stored.parallelism);
  return timingSafeEqual(candidate, stored.hash);
}
