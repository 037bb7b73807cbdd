import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RegistryError } from '../../core/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { canonicalTags, createIdentity, DEVICE_ID_RULE, isValidDeviceId, type DeviceIdentity, type DeviceRole } from './identity.js';
import { parseRegistry, roleProblem, serializeRegistry, tagsProblem, type StoredDevice } from './registry-file.js';
import { DEFAULT_SCRYPT_COST, hashSecret, isValidScryptCost, parseSecretHash, verifySecret } from './secret-hash.js';
import { VerifiedSecrets, type VerifiedSecretsOptions } from './verified-secrets.js';

/** What a reload changed, by device id. */
export interface RegistryChanges {
  added: string[];
  removed: string[];
  /** Secret, role or tags changed: connected clients of these ids hold a stale identity. */
  changed: string[];
}

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
  private devices: Map<string, StoredDevice>;
  /**
   * One identity object per entry: an unchanged entry keeps its object across reloads, so a
   * connected client's identity is current exactly while it is the registry's (`isCurrent`).
   */
  private readonly identities = new WeakMap<StoredDevice, DeviceIdentity>();
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
    return [...this.devices.values()].map((d) => this.identityOf(d));
  }

  /** One device's id, role and tags, or undefined when it is not registered. */
  get(id: string): DeviceIdentity | undefined {
    const d = this.devices.get(id);
    return d === undefined ? undefined : this.identityOf(d);
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
    return this.identityOf(entry);
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
    return this.identityOf(entry);
  }

  /** Gives `id` a new secret, keeping its role and tags; returns the secret. */
  async rotate(id: string): Promise<string> {
    const entry = this.devices.get(id);
    if (entry === undefined) throw new RegistryError(`no device "${id}" in ${this.path}: add it with "sluice devices add ${id}"`);
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const stored = await hashSecret(Buffer.from(secret, 'utf8'), this.scryptCost);
    const hash = parseSecretHash(stored);
    if (typeof hash === 'string') throw new RegistryError(`internal: fresh hash for "${id}" does not parse: ${hash}`);
    if (this.devices.get(id) !== entry) throw new RegistryError(`device "${id}" changed while its new secret was made; try again`);
    this.verified.delete(id);
    this.devices.set(id, { ...entry, secret: stored, hash });
    return secret;
  }

  /**
   * Reads the file again and takes it as the registry. An entry whose secret, role and tags
   * are unchanged keeps its object (and identity); the cached verifications of removed and
   * changed ids are dropped. (The cache could not admit them anyway: a removed id is
   * refused before the cache is asked, and a changed secret changes the proof. Dropping them
   * keeps that true if either rule ever changes.) A file that is missing or does not parse
   * throws RegistryError and leaves the registry as it was: at start a missing file means
   * "no devices yet", at run time it is far likelier a mistake than a wish to refuse everyone.
   */
  async reload(): Promise<RegistryChanges> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const why = missing ? 'the file is missing (write {"devices": []} to remove every device)' : (err as Error).message;
      throw new RegistryError(`cannot reload device registry ${this.path}: ${why}`, { cause: err });
    }
    const next = new Map<string, StoredDevice>();
    const changes: RegistryChanges = { added: [], removed: [], changed: [] };
    for (const entry of parseRegistry(text, this.path)) {
      const old = this.devices.get(entry.id);
      if (old === undefined) changes.added.push(entry.id);
      else if (!sameEntry(old, entry)) changes.changed.push(entry.id);
      next.set(entry.id, old !== undefined && sameEntry(old, entry) ? old : entry);
    }
    for (const id of this.devices.keys()) if (!next.has(id)) changes.removed.push(id);
    for (const id of [...changes.removed, ...changes.changed]) this.verified.delete(id);
    this.devices = next;
    return changes;
  }

  /** False once the registry no longer holds `identity` as it is: its device was removed, or its secret, role or tags changed. */
  isCurrent(identity: DeviceIdentity): boolean {
    const entry = this.devices.get(identity.id);
    return entry !== undefined && this.identities.get(entry) === identity;
  }

  private identityOf(entry: StoredDevice): DeviceIdentity {
    let identity = this.identities.get(entry);
    if (identity === undefined) {
      identity = createIdentity(entry.id, entry.role, entry.tags);
      this.identities.set(entry, identity);
    }
    return identity;
  }

  private refuseDuplicate(id: string): void {
    if (this.devices.has(id)) throw new RegistryError(`device "${id}" is already registered: give it a new secret with "sluice devices rotate ${id}"`);
  }
}

function sameEntry(a: StoredDevice, b: StoredDevice): boolean {
  return a.secret === b.secret && a.role === b.role && canonicalTags(a.tags) === canonicalTags(b.tags);
}
