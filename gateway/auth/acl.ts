import { readFile } from 'node:fs/promises';
import { AclFileError } from '../../core/index.js';
import { parseAcl, type AclRule } from './acl-parser.js';
import type { DeviceIdentity } from './identity.js';
import { filterCovered, isValidTopicFilter, isValidTopicName, topicMatches } from './topic-match.js';

/** The device contract of DESIGN.md as ACL text: the rules used when `acl.file` is not set. */
export const DEFAULT_ACL = `# A device publishes only under its own id and reads only its own commands.
pattern write devices/%u/telemetry
pattern write devices/%u/telemetry/json
pattern read devices/%u/commands/#
# A Sparkplug B edge node (username = its edge node id) reads its own node and device
# commands. What it publishes is granted by the Sparkplug ingest (ingest.sparkplug).
pattern read spBv1.0/+/NCMD/%u
pattern read spBv1.0/+/DCMD/%u/+
`;

/**
 * Built in for every identity with role 'service' (dashboards, rule engines, command
 * senders), on top of whatever the file grants: read all telemetry and alerts, send
 * commands to any device. Kept out of the file so a custom ACL cannot forget them.
 */
export const SERVICE_ACL = `topic read devices/+/telemetry
topic read devices/+/telemetry/json
topic read alerts/#
topic write devices/+/commands/#
`;

const SERVICE_RULES = parseAcl(SERVICE_ACL, '(built-in service rules)');

/**
 * A `%u`/`%c` value that would widen a rule or step outside it: a level separator or a
 * wildcard, an empty level, or a leading '$' (which would reach broker topics like $SYS).
 */
function unsafeSubstitution(value: string): boolean {
  return value === '' || value.startsWith('$') || ['/', '+', '#', '\u0000'].some((c) => value.includes(c));
}

/**
 * Mosquitto-style access rules. Deny by default; a client gets the union of the `pattern`
 * rules, the `topic` rules before any `user` line, the `topic` rules under `user <its id>`,
 * and for services the built-in SERVICE_ACL, minus whatever an applicable `deny` rule
 * matches. Mosquitto applies `topic` lines before any `user` line to anonymous clients
 * only; we apply them to every client, since our identities always have an id and
 * "anonymous" here is an auth mode, not a missing name.
 *
 * Deny wins over allow, as in mosquitto, which checks deny entries first. Mosquitto does
 * that within each list (the user's topics, then the patterns), so there a user's `topic`
 * allow can win over a `pattern deny`; here any applicable deny wins over every allow,
 * built-in service rules included: stricter, and what an author writing `deny` means.
 */
export class AclRules {
  private readonly denies: readonly AclRule[];
  private readonly grants: readonly AclRule[];

  private constructor(
    rules: readonly AclRule[],
    /** Where the rules came from (file path or label), for messages. */
    readonly source: string,
  ) {
    this.denies = rules.filter((rule) => rule.access === 'deny');
    this.grants = rules.filter((rule) => rule.access !== 'deny');
  }

  /** Parses ACL text; throws AclFileError naming the line number, the line and what was expected. */
  static parse(text: string, source = '(acl)'): AclRules {
    return new AclRules(parseAcl(text, source), source);
  }

  /** Reads and parses an ACL file. */
  static async load(path: string): Promise<AclRules> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new AclFileError(`cannot read ACL file ${path}: ${(err as Error).message}`);
    }
    return AclRules.parse(text, path);
  }

  /** The device rules of DESIGN.md (DEFAULT_ACL). */
  static defaults(): AclRules {
    return AclRules.parse(DEFAULT_ACL, '(default device rules)');
  }

  /** True when the client may publish to the concrete `topic`. */
  canPublish(identity: DeviceIdentity, clientId: string, topic: string): boolean {
    if (!isValidTopicName(topic)) return false;
    const levels = topic.split('/');
    if (this.denied(identity, clientId, (rule) => topicMatches(rule, levels))) return false;
    return this.allows(identity, clientId, 'write', (rule) => topicMatches(rule, levels));
  }

  /**
   * True when every topic the subscription `filter` could match is readable by the client.
   * A deny that covers the whole filter refuses it; a deny that covers only part of it
   * (`#` with `topic deny secret/#`) leaves the subscription granted, and `canReceive`
   * then withholds the denied topics at delivery, as mosquitto does.
   */
  canSubscribe(identity: DeviceIdentity, clientId: string, filter: string): boolean {
    if (!isValidTopicFilter(filter)) return false;
    const levels = filter.split('/');
    if (this.denied(identity, clientId, (rule) => filterCovered(rule, levels))) return false;
    return this.allows(identity, clientId, 'read', (rule) => filterCovered(rule, levels));
  }

  /**
   * True when a deny rule matches a publish to the concrete `topic`. Mapped topics
   * (`ingest.mappings`) are granted by the mapping, not by a rule, but a deny still wins.
   */
  deniesPublish(identity: DeviceIdentity, clientId: string, topic: string): boolean {
    if (this.denies.length === 0) return false;
    const levels = topic.split('/');
    return this.denied(identity, clientId, (rule) => topicMatches(rule, levels));
  }

  /** True when some deny rule applies to this client, so its deliveries need `canReceive`. */
  hasDenyFor(identity: DeviceIdentity): boolean {
    return this.denies.some((rule) => rule.user === undefined || rule.user === identity.id);
  }

  /** False when a deny rule matches the concrete `topic` of a message about to be delivered to the client. */
  canReceive(identity: DeviceIdentity, clientId: string, topic: string): boolean {
    const levels = topic.split('/');
    return !this.denied(identity, clientId, (rule) => topicMatches(rule, levels));
  }

  /**
   * True when the client may read the concrete `topic`: what `canSubscribe` grants, for one
   * message. Asked at delivery for sessions that subscribed under an earlier ACL (a reload),
   * so a subscription the new rules no longer grant stops delivering, as mosquitto checks
   * read access per delivery.
   */
  canRead(identity: DeviceIdentity, clientId: string, topic: string): boolean {
    const levels = topic.split('/');
    if (this.denied(identity, clientId, (rule) => topicMatches(rule, levels))) return false;
    return this.allows(identity, clientId, 'read', (rule) => topicMatches(rule, levels));
  }

  /** Any applicable deny rule that `test` accepts, after substitution. */
  private denied(identity: DeviceIdentity, clientId: string, test: (levels: readonly string[]) => boolean): boolean {
    return this.denies.some((rule) => {
      if (rule.user !== undefined && rule.user !== identity.id) return false;
      return test(rule.kind === 'pattern' ? substituteLiterally(rule, identity.id, clientId) : rule.levels);
    });
  }

  /** Any applicable rule with the access that `test` accepts, after substitution. */
  private allows(identity: DeviceIdentity, clientId: string, need: 'read' | 'write', test: (levels: readonly string[]) => boolean): boolean {
    const grants = (rule: AclRule): boolean => {
      if (rule.access !== need && rule.access !== 'readwrite') return false;
      if (rule.user !== undefined && rule.user !== identity.id) return false;
      const levels = rule.kind === 'pattern' ? substitute(rule, identity.id, clientId) : rule.levels;
      return levels !== undefined && test(levels);
    };
    return this.grants.some(grants) || (identity.role === 'service' && SERVICE_RULES.some(grants));
  }
}

/** The pattern's levels with `%u`/`%c` filled in, or undefined when a value is unsafe (the rule then grants nothing). */
function substitute(rule: AclRule, username: string, clientId: string): readonly string[] | undefined {
  if (!rule.topic.includes('%')) return rule.levels;
  if (rule.topic.includes('%u') && unsafeSubstitution(username)) return undefined;
  if (rule.topic.includes('%c') && unsafeSubstitution(clientId)) return undefined;
  // One pass, so a username containing "%c" is not substituted again.
  return rule.levels.map((level) => level.replace(/%[uc]/g, (m) => (m === '%u' ? username : clientId)));
}

/**
 * A deny pattern's levels with `%u`/`%c` filled in as they are, re-split on '/'. Unlike a
 * grant, a deny may take any value: a '/' makes it the topic the author named, and a '+' or
 * '#' only widens what is denied, which is the safe direction.
 */
function substituteLiterally(rule: AclRule, username: string, clientId: string): readonly string[] {
  if (!rule.topic.includes('%')) return rule.levels;
  return rule.topic.replace(/%[uc]/g, (m) => (m === '%u' ? username : clientId)).split('/');
}
