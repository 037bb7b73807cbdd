import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/index.js';
import { sluiceConfigSchema, type SluiceConfig } from './config-schema.js';

type Raw = Record<string, unknown>;

/** A leaf of the config schema: its dotted path, its env variable, and whether it holds text. */
interface Leaf {
  path: string[];
  env: string;
  isString: boolean;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } };
  for (;;) {
    const def = s._zod.def;
    if (def.innerType && ['default', 'prefault', 'optional', 'nullable'].includes(def.type)) s = def.innerType as never;
    else if (def.type === 'pipe' && def.in) s = def.in as never;
    else return s as unknown as z.ZodType;
  }
}

const upperSnake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Every settable leaf of the schema, with the SLUICE_… variable that sets it. */
export function configLeaves(schema: z.ZodType = sluiceConfigSchema, path: string[] = []): Leaf[] {
  const inner = unwrap(schema) as unknown as { _zod: { def: { type: string } }; shape?: Record<string, z.ZodType> };
  if (inner._zod.def.type === 'object' && inner.shape) {
    return Object.entries(inner.shape).flatMap(([key, child]) => configLeaves(child, [...path, key]));
  }
  return [{ path, env: `SLUICE_${path.map(upperSnake).join('_')}`, isString: inner._zod.def.type === 'string' }];
}

function setPath(target: Raw, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Raw;
  }
  node[path[path.length - 1]!] = value;
}

/** Text from an env variable or flag, typed the way YAML would type it (unless the key holds text). */
function scalar(text: string, isString: boolean): unknown {
  if (isString) return text;
  try {
    return YAML.parse(text) as unknown;
  } catch {
    return text;
  }
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function valueAt(raw: Raw, path: PropertyKey[]): unknown {
  let node: unknown = raw;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
  return node;
}

function formatPath(path: PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('') || '(root)';
}

export interface LoadConfigOptions {
  /** YAML config file; relative paths inside it resolve against its folder. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted path → text, from --set path=value and the named flags. Flags win. */
  overrides?: Record<string, string>;
}

/** Reads the YAML file, applies SLUICE_… environment variables, then flags, and validates the result. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<SluiceConfig> {
  let raw: Raw = {};
  const sources = new Map<string, string>();
  if (options.file) {
    const text = await readFile(options.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read config file ${options.file}: ${err.code ?? err.message}; check the --config path`);
    });
    try {
      raw = (YAML.parse(text) as Raw | null) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${options.file} is not valid YAML: ${(err as Error).message}`, { cause: err });
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${options.file} must hold a mapping of keys`);
  }
  const leaves = configLeaves();
  const env = options.env ?? process.env;
  for (const leaf of leaves) {
    const text = env[leaf.env];
    if (text === undefined) continue;
    setPath(raw, leaf.path, scalar(text, leaf.isString));
    sources.set(leaf.path.join('.'), leaf.env);
  }
  for (const [dotted, text] of Object.entries(options.overrides ?? {})) {
    const leaf = leaves.find((l) => l.path.join('.') === dotted);
    if (!leaf) throw new ConfigError(`unknown config key '${dotted}' in a flag; known keys: ${leaves.map((l) => l.path.join('.')).join(', ')}`);
    setPath(raw, leaf.path, scalar(text, leaf.isString));
    sources.set(dotted, 'a flag');
  }

  const parsed = sluiceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `unknown key '${formatPath([...issue.path, k])}'`).join('; ');
      }
      const at = formatPath(issue.path);
      const from = sources.get(issue.path.join('.'));
      const secret = /key|password|token|secret/i.test(String(issue.path[issue.path.length - 1] ?? ''));
      const got = secret ? 'a value not shown because it is a secret' : describe(valueAt(raw, issue.path));
      return `${at}: ${issue.message} (got ${got}${from ? ` from ${from}` : ''})`;
    });
    throw new ConfigError(`invalid configuration${options.file ? ` in ${options.file}` : ''}:\n  ${lines.join('\n  ')}`);
  }
  const config = parsed.data;
  // Paths in a config file are relative to the file, not to wherever sluice was started.
  const base = options.file ? dirname(resolve(options.file)) : process.cwd();
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  config.dataDir = rel(config.dataDir);
  config.auth.registry = rel(config.auth.registry);
  if (config.acl.file) config.acl.file = rel(config.acl.file);
  if (config.rules.file) config.rules.file = rel(config.rules.file);
  if (config.mqtt.tls) {
    const { cert, key, ca } = config.mqtt.tls;
    config.mqtt.tls = { ...config.mqtt.tls, cert: rel(cert), key: rel(key), ...(ca === undefined ? {} : { ca: rel(ca) }) };
  }
  if (config.influx.tls.ca) config.influx.tls.ca = rel(config.influx.tls.ca);
  return config;
}
