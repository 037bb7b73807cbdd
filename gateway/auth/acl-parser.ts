import { AclFileError } from '../../core/index.js';
import { isValidTopicFilter } from './topic-match.js';

/** What a rule grants: read = subscribe, write = publish; deny takes both away, whatever else grants them. */
export type Access = 'read' | 'write' | 'readwrite' | 'deny';

/** One `topic` or `pattern` line. */
export interface AclRule {
  /** `topic`: literal, scoped to `user` when set. `pattern`: every client, `%u`/`%c` substituted. */
  readonly kind: 'topic' | 'pattern';
  readonly access: Access;
  /** The filter as written. */
  readonly topic: string;
  /** Its levels, split once here rather than per message. */
  readonly levels: readonly string[];
  /** The username a `topic` line is scoped to; undefined = every client. */
  readonly user?: string;
  /** 1-based line in the source, for messages. */
  readonly line: number;
}

const ACCESS = new Set<string>(['read', 'write', 'readwrite', 'deny']);
const SUBSTITUTION = /%[uc]/;

/**
 * Parses mosquitto's ACL file syntax, so a mosquitto ACL file works unchanged:
 * `user <name>` (the rest of the line, as mosquitto reads it), `topic [read|write|readwrite|deny] <topic>`,
 * `pattern [read|write|readwrite|deny] <topic>`, `#` comments, blank lines. After an
 * access word the topic is the rest of the line, spaces included, as in mosquitto.
 * Stricter than mosquitto where lenience would silently grant access: without an access
 * word the topic must be one token (`topic raed secret/#` is a typo, not a grant on the
 * topic "raed secret/#"), and `%u`/`%c` in a `topic` line is an error (mosquitto takes
 * them literally there, which is never what the author meant).
 */
export function parseAcl(text: string, source: string): AclRule[] {
  const rules: AclRule[] = [];
  let user: string | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    function fail(expected: string): never {
      throw new AclFileError(`${source}: line ${line} ${JSON.stringify(trimmed)}: ${expected}`);
    }
    const [keyword = '', rest = ''] = splitFirst(trimmed);
    if (keyword === 'user') {
      if (rest === '') fail('expected "user <name>" with a name');
      user = rest;
      return;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') fail(`expected "user", "topic" or "pattern", got "${keyword}"`);
    const form = `expected "${keyword} [read|write|readwrite|deny] <topic>"`;
    if (rest === '') fail(`${form}: the topic is missing`);
    const [first = '', afterFirst = ''] = splitFirst(rest);
    const hasAccess = ACCESS.has(first);
    if (hasAccess && afterFirst === '') fail(`${form}: the topic is missing after "${first}"`);
    if (!hasAccess && afterFirst !== '') fail(`${form}, got access "${first}" (topics cannot contain spaces unless an access word comes first)`);
    // mosquitto's default when the access word is left out.
    const access = (hasAccess ? first : 'readwrite') as Access;
    const topic = hasAccess ? afterFirst : first;
    if (!isValidTopicFilter(topic)) fail(`${form}: "${topic}" is not a valid MQTT topic filter ('#' only alone as the last level, '+' only alone in a level)`);
    if (keyword === 'topic' && SUBSTITUTION.test(topic)) fail('%u and %c are only substituted in "pattern" lines; use "pattern" here');
    const scope = keyword === 'topic' && user !== undefined ? { user } : {};
    rules.push({ kind: keyword, access, topic, levels: topic.split('/'), line, ...scope });
  });
  return rules;
}

/** The first whitespace-separated word and the trimmed rest of the line. */
function splitFirst(text: string): [string, string] {
  const match = /^(\S+)\s*(.*)$/.exec(text);
  return match ? [match[1]!, match[2]!.trim()] : ['', ''];
}
