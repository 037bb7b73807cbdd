import { access } from 'node:fs/promises';
import { DeviceRegistry } from '../../gateway/index.js';
import { encodeTagSet } from '../../proto/index.js';
import { describeRule, describeSelector, loadRulesFile, SelectorMatcher, type Rule } from '../../processors/rules/index.js';
import type { SluiceConfig } from '../config-schema.js';

/** Device ids a rule's line lists before "… and N more". */
const MAX_LISTED = 10;

/** A registered device as selection needs it. */
export interface RegisteredDevice {
  id: string;
  tags: Readonly<Record<string, string>>;
}

/**
 * `sluice rules check`: validates `file` against the config's windows (throws
 * RulesInvalidError listing every problem) and returns what to print: a summary line,
 * then per rule its kind, severity, what it watches and which devices it selects. With
 * `auth.mode: registry` and a registry file, the registered devices (role `device`) it
 * selects by id and tags are listed; otherwise the selector is described.
 */
export async function checkRulesFile(file: string, config: Pick<SluiceConfig, 'windows' | 'auth'>): Promise<string[]> {
  const rules = await loadRulesFile(file, { windows: config.windows });
  const registry = await registeredDevices(config.auth);
  const windows = config.windows.map((w) => w.name).join(', ') || 'none';
  const lines = [`${file}: ${rules.length} rule${rules.length === 1 ? '' : 's'}, valid against the configured windows (${windows})`];
  if (registry !== undefined) lines.push(`devices from ${registry.path} (${registry.devices.length} registered)`);
  for (const rule of rules) {
    lines.push(`${rule.name} (${rule.kind}, ${rule.severity}): ${describeRule(rule)}`);
    lines.push(`  selects ${selection(rule, registry?.devices)}`);
  }
  return lines;
}

/** The rule's selection: the registered devices it takes, or its selector in words. */
export function selection(rule: Rule, devices: readonly RegisteredDevice[] | undefined): string {
  const described = describeSelector(rule.devices);
  if (devices === undefined) return described;
  if (devices.length === 0) return `${described} (the registry has no devices)`;
  const matcher = new SelectorMatcher(rule.devices);
  const ids = devices.filter((d) => matcher.matchesDevice(d.id, d.tags)).map((d) => d.id);
  const readingTags = rule.devices.readingTags ?? {};
  const readings = Object.keys(readingTags).length === 0 ? '' : ` (readings tagged ${encodeTagSet(readingTags)} only)`;
  if (ids.length === devices.length) return `all ${devices.length} registered devices${readings}`;
  if (ids.length === 0) return `none of the ${devices.length} registered devices (${described})`;
  const listed = ids.slice(0, MAX_LISTED).join(', ') + (ids.length > MAX_LISTED ? `, … and ${ids.length - MAX_LISTED} more` : '');
  return `${ids.length} of ${devices.length} registered devices${readings}: ${listed}`;
}

async function registeredDevices(auth: SluiceConfig['auth']): Promise<{ path: string; devices: RegisteredDevice[] } | undefined> {
  if (auth.mode !== 'registry') return undefined;
  const exists = await access(auth.registry).then(
    () => true,
    () => false,
  );
  if (!exists) return undefined;
  const registry = await DeviceRegistry.load(auth.registry);
  return { path: registry.path, devices: registry.list().filter((d) => d.role === 'device') };
}
