/**
 * sluice.example.yaml stays complete and true: it loads with the real config loader to
 * exactly the defaults, and every key of the schema (configLeaves, the same list the
 * SLUICE_* variables come from) is in it, set or commented out as `# key: value`.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { configLeaves, loadConfig } from './config-loader.js';

const EXAMPLE = fileURLToPath(new URL('../sluice.example.yaml', import.meta.url));

/** The example with its commented-out keys (`# key: value`, `#   key: value`) made live. */
async function everyKey(): Promise<Record<string, unknown>> {
  const text = await readFile(EXAMPLE, 'utf8');
  return YAML.parse(text.replace(/^(\s*)# (?=\s*[A-Za-z]\w*:)/gm, '$1')) as Record<string, unknown>;
}

/** The dotted paths of a parsed YAML mapping's leaves (arrays are leaves, as in the schema). */
function paths(node: unknown, prefix: string[] = []): string[] {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return [prefix.join('.')];
  return Object.entries(node).flatMap(([key, child]) => paths(child, [...prefix, key]));
}

describe('sluice.example.yaml', () => {
  it('loads with the real config loader, and its values are the defaults', async () => {
    // Both resolve relative paths against the repository root: the example's folder and the test's cwd.
    expect(await loadConfig({ file: EXAMPLE, env: {} })).toEqual(await loadConfig({ env: {} }));
  });

  it('has every key of the schema, and no key the schema lacks', async () => {
    const schemaKeys = configLeaves().map((leaf) => leaf.path.join('.')).sort();
    const exampleKeys = paths(await everyKey()).sort();
    expect(schemaKeys.filter((key) => !exampleKeys.includes(key)), 'schema keys missing from sluice.example.yaml').toEqual([]);
    expect(exampleKeys.filter((key) => !schemaKeys.includes(key)), 'keys in sluice.example.yaml the schema does not have').toEqual([]);
  });

  it('gives every key line a comment', async () => {
    const lines = (await readFile(EXAMPLE, 'utf8')).split('\n').map((line) => line.replace(/^(\s*)# (?=\s*[A-Za-z]\w*:)/, '$1'));
    const keyLines = lines.filter((line) => /^\s*(- )?[A-Za-z]\w*:/.test(line));
    // A section header (`influx:`) says nothing itself; its keys do. The window's own keys are one list item.
    const bare = keyLines.filter((line) => !/\s#\s\S/.test(line) && !/^\s*[A-Za-z]\w*:\s*$/.test(line) && !/^\s+(- )?(name|size):/.test(line));
    expect(bare, 'key lines without a comment').toEqual([]);
  });
});
