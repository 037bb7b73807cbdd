import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RegistryError } from '../../core/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { createIdentity, DEVICE_ID_RULE, isValidDeviceId, type DeviceIdentity, type DeviceRole } from './identity.js';
import { parseRegistry, roleProblem, serializeRegistry, tagsProblem, type StoredDevice } from './registry-file.js';
import { DEFAULT_SCRYPT_COST, hashSecret, isValidScryptCost, parseSecretHash, verifySecret } from './secret-hash.js';
import { VerifiedSecrets, type VerifiedSecretsOptions } from './verified-secrets.js';

/** Options for `DeviceRegistry.load`. */
export interface DeviceRegistryOptions {
  /** scrypt N for secrets created by `add()`; default 16384. Existing entries keep their own N. */
  scryptCost?: number;
  /** Secrets that passed scrypt, remembered so a reconnect skips it; default 100 000 devices for 1 h. */
  verifiedCache?: VerifiedSecretsOptions;
}

/** What `add()` accepts besides the id. */
export interface NewDevice {
  /** Default 'device'. */
  role?: DeviceRole;
  /** Default none. */
  tags?: Record<string, string>;
}

/** The registry file holds secrets: owner read/write only. */
const FILE_MODE = 0o600;
const SECRET_BYTES = 32;
const DEFAULT_VERIFIED_CACHE: VerifiedSecretsOptions = { maxEntries: 100_000, ttlMs: 3_600_000 };

/**
 * The device registry: ids, roles, static tags and scrypt hashes of per-device secrets,
 * kept in one JSON file. Secrets themselves are never stored; `add()` returns the only copy.
 */
export class DeviceRegistry {
  private readonly devices: Map<string, StoredDevice>;
  /** Recent successful verifications: a fleet reconnecting after a network blip skips scrypt. */
  private readonly verified: VerifiedSecrets;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    /** The file this registry loads from and saves to. */
    readonly path: string,
    devices: StoredDevice[],
    private readonly scryptCost: number,
    verifiedCache: VerifiedSecretsOptions,
  ) {
    this.devices = new Map(devices.map((d) => [d.id, d]));
    this.verified = new VerifiedSecrets(verifiedCache);
  }

  /** Reads the registry at `path`; a missing file gives an empty registry that `save()` creates. */
  static async load(path: string, options: DeviceRegistryOptions = {}): Promise<DeviceRegistry> {
    const cost = options.scryptCost ?? DEFAULT_SCRYPT_COST;
    const cache = options.verifiedCache ?? DEFAULT_VERIFIED_CACHE;
    if (!isValidScryptCost(cost)) throw new RegistryError(`scryptCost must be a power of two from 2 to 2^20, got ${cost}`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new DeviceRegistry(path, [], cost, cache);
      throw new RegistryError(`cannot read device registry ${path}: ${(err as Error).message}`, { cause: err });
    }
    return new DeviceRegistry(path, parseRegistry(text, path), cost, cache);
  }

  /** Registers a device and returns its new secret (32 random bytes, base64url); only the hash is kept. */
  async add(id: string, device: NewDevice = {}): Promise<string> {
    const { role = 'device', tags = {} } = device;
    if (!isValidDeviceId(id)) throw new RegistryError(`invalid device id ${JSON.stringify(id)}: expected ${DEVICE_ID_RULE}`);
    const problem = roleProblem(role) ?? tagsProblem(tags);
    if (problem !== undefined) throw new RegistryError(`device "${id}": ${problem}`);
    this.refuseDuplicate(id);
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    // Devices send the secret as their MQTT password, i.e. its UTF-8 bytes: hash those.
    const stored = await hashSecret(Buffer.from(secret, 'utf8'), this.scryptCost);
    // Checked again: another add() for the same id may have finished while scrypt ran.
    this.refuseDuplicate(id);
    const hash = parseSecretHash(stored);
    if (typeof hash === 'string') throw new RegistryError(`internal: fresh hash for "${id}" does not parse: ${hash}`);
    this.devices.set(id, { id, role, tags: Object.fromEntries(Object.entries(tags)), secret: stored, hash });
    return secret;
  }

  /** Removes a device and forgets its cached verification; false when it was not there. */
  remove(id: string): boolean {
    this.verified.delete(id);
    return this.devices.delete(id);
  }

  /** Every device's id, role and tags, in registry order; never secrets. */
  list(): DeviceIdentity[] {
    return [...this.devices.values()].map((d) => createIdentity(d.id, d.role, d.tags));
  }

  /** One device's id, role and tags, or undefined when it is not registered. */
  get(id: string): DeviceIdentity | undefined {
    const d = this.devices.get(id);
    return d === undefined ? undefined : createIdentity(d.id, d.role, d.tags);
  }

  /** Number of registered devices. */
  get size(): number {
    return this.devices.size;
  }

  /** Writes the registry atomically with mode 0600; concurrent saves are applied in call order. */
  save(): Promise<void> {
    const text = serializeRegistry(this.devices.values());
    const write = async (): Promise<void> => {
      try {
        await writeFileAtomic(this.path, text, FILE_MODE);
      } catch (err) {
        throw new RegistryError(`cannot write device registry ${this.path}: ${(err as Error).message}`, { cause: err });
      }
    };
    const done = this.saving.then(write, write);
    this.saving = done.catch(() => undefined);
    return done;
  }

  /**
   * The device's identity when `secret` passed scrypt for it recently (and its stored secret
   * has not changed since), otherwise undefined. Costs one SHA-256: no scrypt, no threadpool.
   */
  verifyCached(id: string, secret: Buffer): DeviceIdentity | undefined {
    const entry = this.devices.get(id);
    if (entry === undefined || !this.verified.has(id, entry.secret, secret)) return undefined;
    return createIdentity(entry.id, entry.role, entry.tags);
  }

  /** The device's identity when `secret` is its secret, otherwise undefined. */
  async verify(id: string, secret: Buffer): Promise<DeviceIdentity | undefined> {
    const cached = this.verifyCached(id, secret);
    if (cached !== undefined) return cached;
    const entry = this.devices.get(id);
    if (entry === undefined) return undefined;
    const ok = await verifySecret(entry.hash, secret);
    // The device may have been removed (or removed and re-added) while scrypt ran.
    if (!ok || this.devices.get(id) !== entry) return undefined;
    this.verified.add(id, entry.secret, secret);
    return createIdentity(entry.id, entry.role, entry.tags);
  }

  private refuseDuplicate(id: string): void {
    if (this.devices.has(id)) throw new RegistryError(`device "${id}" is already registered; remove it first to issue a new secret`);
  }
}
