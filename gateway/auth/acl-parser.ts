import { AclFileError } from '../../core/index.js';
import { isValidTopicFilter } from './topic-match.js';

/** What a rule grants: read = subscribe, write = publish. */
export type Access = 'read' | 'write' | 'readwrite';

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

const ACCESS = new Set<string>(['read', 'write', 'readwrite']);
const SUBSTITUTION = /%[uc]/;

/**
 * Parses mosquitto-style ACL text: `user <name>`, `topic [read|write|readwrite] <topic>`,
 * `pattern [read|write|readwrite] <topic>`, `#` comments, blank lines. Stricter than
 * mosquitto where lenience would silently grant access: a topic is one token (no spaces),
 * `deny` is not supported, and `%u`/`%c` in a `topic` line is an error (they only
 * substitute in `pattern` lines).
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
    const tokens = trimmed.split(/\s+/);
    const keyword = tokens[0]!;
    if (keyword === 'user') {
      if (tokens.length !== 2) fail('expected "user <name>" with a name and nothing else');
      user = tokens[1]!;
      return;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') fail(`expected "user", "topic" or "pattern", got "${keyword}"`);
    const form = `expected "${keyword} [read|write|readwrite] <topic>"`;
    if (tokens.length < 2 || tokens.length > 3) fail(`${form} (topics cannot contain spaces)`);
    if (tokens.length === 3 && !ACCESS.has(tokens[1]!)) fail(`${form}, got access "${tokens[1]}"`);
    // mosquitto's default when the access word is left out.
    const access = (tokens.length === 3 ? tokens[1] : 'readwrite') as Access;
    const topic = tokens[tokens.length - 1]!;
    if (!isValidTopicFilter(topic)) fail(`${form}: "${topic}" is not a valid MQTT topic filter ('#' only alone as the last level, '+' only alone in a level)`);
    if (keyword === 'topic' && SUBSTITUTION.test(topic)) fail('%u and %c are only substituted in "pattern" lines; use "pattern" here');
    const scope = keyword === 'topic' && user !== undefined ? { user } : {};
    rules.push({ kind: keyword, access, topic, levels: topic.split('/'), line, ...scope });
  });
  return rules;
}
