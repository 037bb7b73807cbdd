import { readFileSync } from 'node:fs';

/**
 * Sluice's version from its package.json. This file runs from `core/` (tests) and from
 * `dist/core/` (the built CLI), so the manifest is one or two folders up.
 */
export function sluiceVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'sluice' && manifest.version) return manifest.version;
    } catch {
      // not this level: try the next one up
    }
  }
  return 'unknown';
}
