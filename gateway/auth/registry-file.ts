import { RegistryError } from '../../core/index.js';
import { tagProblem } from '../../proto/index.js';
import { DEVICE_ID_RULE, isValidDeviceId, type DeviceRole } from './identity.js';
import { parseSecretHash, type SecretHash } from './secret-hash.js';

/** One registry entry as held in memory: the stored hash string and its parsed form. */
export interface StoredDevice {
  readonly id: string;
  readonly role: DeviceRole;
  readonly tags: Readonly<Record<string, string>>;
  readonly secret: string;
  readonly hash: SecretHash;
}

/** Registry tags are written into every point of the device, like reading tags. */
const MAX_REGISTRY_TAG_LENGTH = 256;
const ENTRY_KEYS = new Set(['id', 'role', 'tags', 'secret']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What is wrong with a tag set, or undefined when it is fine. */
export function tagsProblem(tags: unknown): string | undefined {
  if (!isPlainObject(tags)) return '"tags" must be an object of string values';
  for (const [key, value] of Object.entries(tags)) {
    if (key.length === 0) return '"tags" has an empty key';
    if (typeof value !== 'string' || value.length === 0) return `tag "${key}" must be a non-empty string`;
    const problem = tagProblem(key, value, MAX_REGISTRY_TAG_LENGTH);
    if (problem !== undefined) return `tag ${JSON.stringify(key)}=${JSON.stringify(value)}: ${problem}`;
  }
  return undefined;
}

/** What is wrong with a role, or undefined when it is fine. */
export function roleProblem(role: unknown): string | undefined {
  return role === 'device' || role === 'service' ? undefined : `"role" must be "device" or "service", got ${JSON.stringify(role)}`;
}

/** Validates one entry; the message never includes the secret. */
function parseEntry(entry: unknown): StoredDevice | string {
  if (!isPlainObject(entry)) return 'expected an object {"id", "role", "tags", "secret"}';
  const unknown = Object.keys(entry).find((k) => !ENTRY_KEYS.has(k));
  if (unknown !== undefined) return `unknown key "${unknown}" (expected id, role, tags, secret)`;
  const { id, role = 'device', tags = {}, secret } = entry;
  if (typeof id !== 'string' || !isValidDeviceId(id)) return `"id" must be ${DEVICE_ID_RULE}, got ${JSON.stringify(id)}`;
  const problem = roleProblem(role) ?? tagsProblem(tags);
  if (problem !== undefined) return problem;
  if (typeof secret !== 'string') return '"secret" must be a string "scrypt$<N>$<r>$<p>$<salt>$<hash>"';
  const hash = parseSecretHash(secret);
  if (typeof hash === 'string') return `"secret": ${hash}`;
  // fromEntries defines own properties, so a "__proto__" tag key cannot touch the prototype.
  const ownTags = Object.fromEntries(Object.entries(tags as Record<string, string>));
  return { id, role: role as DeviceRole, tags: ownTags, secret, hash };
}

/** Parses a registry file's text; throws RegistryError naming the file, the entry index and the problem. */
export function parseRegistry(text: string, path: string): StoredDevice[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RegistryError(`device registry ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(doc) || !Array.isArray(doc.devices)) {
    throw new RegistryError(`device registry ${path}: expected an object {"devices": [...]}`);
  }
  const unknown = Object.keys(doc).find((k) => k !== 'devices');
  if (unknown !== undefined) throw new RegistryError(`device registry ${path}: unknown top-level key "${unknown}" (expected only "devices")`);
  const seen = new Map<string, number>();
  return doc.devices.map((entry: unknown, index: number) => {
    const device = parseEntry(entry);
    if (typeof device === 'string') throw new RegistryError(`device registry ${path}: devices[${index}]: ${device}`);
    const first = seen.get(device.id);
    if (first !== undefined) throw new RegistryError(`device registry ${path}: devices[${index}]: id "${device.id}" already used by devices[${first}]`);
    seen.set(device.id, index);
    return device;
  });
}

/** The file's text for a set of entries: stable key order, one entry per device, trailing newline. */
export function serializeRegistry(devices: Iterable<StoredDevice>): string {
  const entries = [...devices].map(({ id, role, tags, secret }) => ({ id, role, tags, secret }));
  return `${JSON.stringify({ devices: entries }, null, 2)}\n`;
}
