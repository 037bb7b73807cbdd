import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SluiceError } from './errors.js';

/**
 * The compiled worker script `relativePath` (repo-relative, .js), for code at `fromUrl`.
 * Compiled code runs from dist/, where the worker sits next to its caller. Under vitest
 * the caller is the TS source in the repo and there is no .js beside it (workers cannot
 * load .ts), so fall back to the same path under <repo>/dist/: tests that start workers
 * need `npm run build` first.
 */
export function compiledWorkerFile(fromUrl: string, relativePath: string): string {
  const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
  const beside = new URL(`./${name}`, fromUrl);
  if (existsSync(beside)) return fileURLToPath(beside);
  const depth = relativePath.split('/').length - 1;
  const repoRoot = new URL('../'.repeat(depth) || './', fromUrl);
  const built = new URL(`dist/${relativePath}`, repoRoot);
  if (existsSync(built)) return fileURLToPath(built);
  throw new SluiceError('SLUICE_WORKER_MISSING', `worker ${name} not found at ${fileURLToPath(beside)} or ${fileURLToPath(built)}: run \`npm run build\``);
}
