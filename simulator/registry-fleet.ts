import { readFile, writeFile } from 'node:fs/promises';
import { DeviceRegistry } from '../gateway/index.js';

/** Where the simulator keeps the secrets of the devices it enrolled: beside the registry, readable by its owner only. */
export function secretsFileOf(registryPath: string): string {
  return `${registryPath}.simulator-secrets.json`;
}

/**
 * Registry mode for a simulated fleet: the registry stores only scrypt hashes, so the
 * simulator enrols the devices it needs (`sluice devices add` for each, ~50 ms of scrypt
 * apiece) and keeps their secrets in a side file, reused by later runs. Returns every
 * device's password and how many were newly enrolled; the gateway reads the registry at
 * start, so it must be (re)started after new enrolments.
 */
export async function enrolFleet(registryPath: string, ids: readonly string[]): Promise<{ passwords: Map<string, string>; enrolled: number }> {
  const secretsPath = secretsFileOf(registryPath);
  const known = JSON.parse(await readFile(secretsPath, 'utf8').catch(() => '{}')) as Record<string, string>;
  const registry = await DeviceRegistry.load(registryPath);
  const missing = ids.filter((id) => registry.get(id) === undefined || known[id] === undefined);
  for (const id of missing) if (registry.get(id) !== undefined) registry.remove(id); // its secret is lost: issue a new one
  // scrypt runs in libuv's pool: a few at a time keeps every core busy.
  for (let i = 0; i < missing.length; i += 8) {
    const batch = missing.slice(i, i + 8);
    const secrets = await Promise.all(batch.map((id) => registry.add(id)));
    batch.forEach((id, k) => (known[id] = secrets[k]!));
  }
  if (missing.length > 0) {
    await registry.save();
    await writeFile(secretsPath, JSON.stringify(known, null, 1), { mode: 0o600 });
  }
  return { passwords: new Map(ids.map((id) => [id, known[id]!])), enrolled: missing.length };
}
