import { encodeTagSet, parseTagSet } from '../../proto/index.js';
import type { DeviceSelector } from './rule.js';

/** Distinct reading-tag strings remembered per selector before the memo starts over (they are series keys: already bounded by the gateway's cardinality guard). */
const READING_MEMO_LIMIT = 4096;

/**
 * A rule's device selector, compiled: device ids by glob (`*` = any run of characters),
 * registry tags and reading tags by equality, all given parts required. Tags arrive as
 * canonical tag strings (proto/tag-set.ts); a device's are parsed once per device by the
 * caller, a reading's are looked up in a memo, so the per-window cost is a map lookup.
 */
export class SelectorMatcher {
  private readonly ids: RegExp | undefined;
  private readonly tags: readonly [string, string][];
  private readonly readingTags: readonly [string, string][];
  private readonly readingMemo = new Map<string, boolean>();

  constructor(readonly selector: DeviceSelector) {
    this.ids = selector.ids === undefined ? undefined : new RegExp(`^(?:${selector.ids.map(globSource).join('|')})$`, 's');
    this.tags = Object.entries(selector.tags ?? {});
    this.readingTags = Object.entries(selector.readingTags ?? {});
  }

  /** True when every reading matches (no readingTags part): callers skip the memo. */
  get anyReading(): boolean {
    return this.readingTags.length === 0;
  }

  /** Whether the device (id, parsed registry tags) is selected. */
  matchesDevice(id: string, tags: Readonly<Record<string, string>>): boolean {
    if (this.ids !== undefined && !this.ids.test(id)) return false;
    for (const [k, v] of this.tags) if (tags[k] !== v) return false;
    return true;
  }

  /** Whether a reading (or window series) with these canonical reading tags is selected. */
  matchesReading(readingTags: string): boolean {
    if (this.readingTags.length === 0) return true;
    let match = this.readingMemo.get(readingTags);
    if (match === undefined) {
      const tags = parseTagSet(readingTags);
      match = this.readingTags.every(([k, v]) => tags[k] === v);
      if (this.readingMemo.size >= READING_MEMO_LIMIT) this.readingMemo.clear();
      this.readingMemo.set(readingTags, match);
    }
    return match;
  }
}

function globSource(glob: string): string {
  return glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
}

/** The selector in words: "all devices", or "devices with id a-* or b, tagged site=oslo, readings tagged zone=top". */
export function describeSelector(selector: DeviceSelector): string {
  const parts: string[] = [];
  if (selector.ids !== undefined) parts.push(`with id ${selector.ids.join(' or ')}`);
  if (selector.tags !== undefined && Object.keys(selector.tags).length > 0) parts.push(`tagged ${encodeTagSet(selector.tags)}`);
  const devices = parts.length === 0 ? 'all devices' : `devices ${parts.join(', ')}`;
  if (selector.readingTags === undefined || Object.keys(selector.readingTags).length === 0) return devices;
  return `${devices}, readings tagged ${encodeTagSet(selector.readingTags)}`;
}
