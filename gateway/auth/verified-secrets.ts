import { createHash, timingSafeEqual } from 'node:crypto';

/** How many verified secrets to keep and for how long. */
export interface VerifiedSecretsOptions {
  /** Devices remembered at most (least recently verified forgotten first); 0 turns the cache off. */
  readonly maxEntries: number;
  /** How long a verification is trusted without scrypt, in ms. */
  readonly ttlMs: number;
}

interface Entry {
  readonly digest: Buffer;
  readonly expires: number;
}

/**
 * Remembers, per device id, proof of the last secret that passed scrypt, so a device that
 * reconnects (a fleet after a network blip, one flapping link) costs microseconds instead
 * of ~40 ms of a threadpool thread.
 *
 * The proof is SHA-256 over the stored scrypt string *and* the password. So a wrong
 * password never matches, and neither does the right old password once the device's
 * secret changed (removed and re-added: a new salt and hash), without any invalidation
 * call. A fast hash is enough: an entry exists only after the slow hash succeeded, and it
 * lives only in this process's memory. The comparison is constant-time.
 */
export class VerifiedSecrets {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: VerifiedSecretsOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when `password` passed scrypt against `storedHash` for `id` within the TTL. */
  has(id: string, storedHash: string, password: Buffer): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    if (this.now() >= entry.expires) {
      this.entries.delete(id);
      return false;
    }
    return timingSafeEqual(entry.digest, proof(storedHash, password));
  }

  /** Records that `password` passed scrypt against `storedHash` for `id`. */
  add(id: string, storedHash: string, password: Buffer): void {
    if (this.options.maxEntries === 0) return;
    // Re-inserted so that Map order is least recently verified first.
    this.entries.delete(id);
    this.entries.set(id, { digest: proof(storedHash, password), expires: this.now() + this.options.ttlMs });
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets `id` (the device was removed). */
  delete(id: string): void {
    this.entries.delete(id);
  }
}

/** SHA-256(storedHash ‖ 0x00 ‖ password): the NUL keeps the two parts from running together. */
function proof(storedHash: string, password: Buffer): Buffer {
  return createHash('sha256').update(storedHash, 'utf8').update(Buffer.from([0])).update(password).digest();
}
