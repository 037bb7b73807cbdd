import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AclFileError } from '../../core/index.js';
import { createIdentity, type DeviceIdentity } from './identity.js';
import { AclRules } from './index.js';

const device = (id: string): DeviceIdentity => createIdentity(id, 'device');
const service = (id: string): DeviceIdentity => createIdentity(id, 'service');

/** The AclFileError that parsing `text` raises. */
function parseError(text: string): AclFileError {
  try {
    AclRules.parse(text, 'test.acl');
  } catch (err) {
    expect(err).toBeInstanceOf(AclFileError);
    return err as AclFileError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe('AclRules.defaults (the device contract)', () => {
  const acl = AclRules.defaults();
  const d1 = device('d1');

  it('lets a device publish its own telemetry only', () => {
    expect(acl.canPublish(d1, 'd1', 'devices/d1/telemetry')).toBe(true);
    expect(acl.canPublish(d1, 'd1', 'devices/d1/telemetry/json')).toBe(true);
    expect(acl.canPublish(d1, 'd1', 'devices/d2/telemetry')).toBe(false);
    expect(acl.canPublish(d1, 'd1', 'devices/d1/commands/reboot')).toBe(false);
    expect(acl.canPublish(d1, 'd1', 'devices/d1/telemetry/+')).toBe(false);
    expect(acl.canPublish(d1, 'd1', 'alerts/d1')).toBe(false);
  });

  it('lets a device subscribe to its own commands only', () => {
    expect(acl.canSubscribe(d1, 'd1', 'devices/d1/commands/#')).toBe(true);
    expect(acl.canSubscribe(d1, 'd1', 'devices/d1/commands/reboot')).toBe(true);
    expect(acl.canSubscribe(d1, 'd1', 'devices/d2/commands/#')).toBe(false);
    expect(acl.canSubscribe(d1, 'd1', 'devices/+/commands/#')).toBe(false);
    expect(acl.canSubscribe(d1, 'd1', '#')).toBe(false);
    expect(acl.canSubscribe(d1, 'd1', 'devices/d1/#')).toBe(false);
    expect(acl.canSubscribe(d1, 'd1', 'devices/d1/telemetry')).toBe(false);
  });

  it('lets a Sparkplug B edge node subscribe to its own NCMD and DCMD topics only', () => {
    const e1 = device('edge1');
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/plant/NCMD/edge1')).toBe(true);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/+/NCMD/edge1')).toBe(true);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/plant/DCMD/edge1/+')).toBe(true);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/plant/DCMD/edge1/pump')).toBe(true);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/plant/NCMD/edge2')).toBe(false);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/plant/NCMD/+')).toBe(false);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/plant/DCMD/edge1/#')).toBe(false);
    expect(acl.canSubscribe(e1, 'edge1', 'spBv1.0/#')).toBe(false);
    expect(acl.canPublish(e1, 'edge1', 'spBv1.0/plant/NCMD/edge1')).toBe(false);
  });

  it('does not let a username with wildcards or separators widen a pattern', () => {
    for (const id of ['a/+', '+', '#', 'x/devices/d2', '$SYS']) {
      const evil = device(id);
      expect(acl.canSubscribe(evil, id, `devices/${id}/commands/#`), id).toBe(false);
      expect(acl.canPublish(evil, id, 'devices/a/b/telemetry'), id).toBe(false);
    }
  });
});

describe('service identities', () => {
  const acl = AclRules.defaults();
  const svc = service('dash');

  it('get the built-in rules on top of the file', () => {
    expect(acl.canSubscribe(svc, 'any', 'devices/+/telemetry')).toBe(true);
    expect(acl.canSubscribe(svc, 'any', 'devices/d7/telemetry/json')).toBe(true);
    expect(acl.canSubscribe(svc, 'any', 'alerts/#')).toBe(true);
    expect(acl.canPublish(svc, 'any', 'devices/d7/commands/reboot')).toBe(true);
    expect(acl.canSubscribe(svc, 'any', '#')).toBe(false);
    expect(acl.canSubscribe(svc, 'any', 'devices/#')).toBe(false);
    expect(acl.canPublish(svc, 'any', 'devices/d7/telemetry')).toBe(false);
  });

  it('that devices do not get', () => {
    expect(acl.canSubscribe(device('d1'), 'd1', 'alerts/#')).toBe(false);
    expect(acl.canPublish(device('d1'), 'd1', 'devices/d2/commands/x')).toBe(false);
  });
});

describe('custom rule files', () => {
  const text = `# fleet ACL
topic read public/#

user ops
topic readwrite ops/#
topic write config/+

user ingest
topic read  devices/+/telemetry
pattern write clients/%c/status
pattern read clients/%u/%c/inbox
`;
  const acl = AclRules.parse(text, 'fleet.acl');

  it('applies topic lines before any user line to every client', () => {
    expect(acl.canSubscribe(device('d1'), 'd1', 'public/news')).toBe(true);
    expect(acl.canSubscribe(device('d1'), 'd1', 'public/#')).toBe(true);
    expect(acl.canPublish(device('d1'), 'd1', 'public/news')).toBe(false);
  });

  it('scopes topic lines to the user above them', () => {
    expect(acl.canPublish(device('ops'), 'ops-1', 'ops/a/b')).toBe(true);
    expect(acl.canSubscribe(device('ops'), 'ops-1', 'ops/#')).toBe(true);
    expect(acl.canPublish(device('ops'), 'ops-1', 'config/x')).toBe(true);
    expect(acl.canSubscribe(device('ops'), 'ops-1', 'config/x')).toBe(false);
    expect(acl.canPublish(device('ingest'), 'i', 'ops/a')).toBe(false);
    expect(acl.canSubscribe(device('ingest'), 'i', 'devices/+/telemetry')).toBe(true);
    expect(acl.canSubscribe(device('ops'), 'ops-1', 'devices/+/telemetry')).toBe(false);
  });

  it('applies patterns to every client, with %c and %u substituted', () => {
    expect(acl.canPublish(device('ops'), 'c-1', 'clients/c-1/status')).toBe(true);
    expect(acl.canPublish(device('d1'), 'c-2', 'clients/c-1/status')).toBe(false);
    expect(acl.canSubscribe(device('d1'), 'c-2', 'clients/d1/c-2/inbox')).toBe(true);
    expect(acl.canSubscribe(device('d1'), 'c-2', 'clients/d1/+/inbox')).toBe(false);
    expect(acl.canPublish(device('d1'), '+', 'clients/x/status')).toBe(false);
  });

  it('loads from a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-acl-'));
    try {
      const path = join(dir, 'fleet.acl');
      await writeFile(path, text);
      const loaded = await AclRules.load(path);
      expect(loaded.source).toBe(path);
      expect(loaded.canPublish(device('ops'), 'x', 'ops/1')).toBe(true);
      await expect(AclRules.load(join(dir, 'missing.acl'))).rejects.toThrow(AclFileError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('plain broker rule', () => {
  const acl = AclRules.parse('pattern readwrite #');
  const d = device('anyone');

  it('allows everything except $ topics [MQTT-4.7.2-1]', () => {
    expect(acl.canSubscribe(d, 'c', '#')).toBe(true);
    expect(acl.canPublish(d, 'c', 'anything/at/all')).toBe(true);
    expect(acl.canPublish(d, 'c', '$SYS/x')).toBe(false);
    expect(acl.canSubscribe(d, 'c', '$SYS/#')).toBe(false);
  });
});

describe('deny by default', () => {
  it('grants nothing with an empty rule set, and refuses invalid topics and filters', () => {
    const empty = AclRules.parse('# nothing\n\n');
    expect(empty.canPublish(device('d'), 'd', 'a')).toBe(false);
    expect(empty.canSubscribe(device('d'), 'd', 'a')).toBe(false);
    const all = AclRules.parse('topic #');
    expect(all.canSubscribe(device('d'), 'd', 'a/#/b')).toBe(false);
    expect(all.canPublish(device('d'), 'd', '')).toBe(false);
  });
});

describe('mosquitto ACL files, unchanged', () => {
  // mosquitto's own aclfile.example, then the kind of file an operator migrates with.
  const example = `# This affects access control for clients with no username.
topic read $SYS/#

# This only affects clients with username "roger".
user roger
topic foo/bar

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
`;
  const fleet = `
# Everyone reads the fleet's telemetry, except the billing meters.
topic read devices/+/telemetry
topic deny devices/meter-billing/telemetry

# Each client owns its inbox and status; nobody may touch another's private area.
pattern readwrite clients/%c/#
pattern deny clients/%c/private/secrets
pattern read users/%u/#

user ops team
topic readwrite ops/#
topic deny ops/audit/#
	topic  write   site status/board
`;

  it("parses mosquitto's aclfile.example", () => {
    const acl = AclRules.parse(example, 'aclfile.example');
    expect(acl.canSubscribe(device('anyone'), 'c', '$SYS/#')).toBe(true);
    expect(acl.canPublish(device('roger'), 'c', 'foo/bar')).toBe(true);
    expect(acl.canSubscribe(device('roger'), 'c', 'foo/bar')).toBe(true);
    expect(acl.canPublish(device('other'), 'c', 'foo/bar')).toBe(false);
    expect(acl.canPublish(device('x'), 'c-9', '$SYS/broker/connection/c-9/state')).toBe(true);
    expect(acl.canPublish(device('x'), 'c-9', '$SYS/broker/connection/c-8/state')).toBe(false);
  });

  it('lets topic deny win over a wider allow, for publish, subscribe and delivery', () => {
    const acl = AclRules.parse(fleet, 'fleet.acl');
    const d = device('d1');
    expect(acl.canSubscribe(d, 'd1', 'devices/meter-7/telemetry')).toBe(true);
    expect(acl.canSubscribe(d, 'd1', 'devices/meter-billing/telemetry')).toBe(false);
    // Partly denied: granted, and the denied topic is withheld per message.
    expect(acl.canSubscribe(d, 'd1', 'devices/+/telemetry')).toBe(true);
    expect(acl.hasDenyFor(d)).toBe(true);
    expect(acl.canReceive(d, 'd1', 'devices/meter-billing/telemetry')).toBe(false);
    expect(acl.canReceive(d, 'd1', 'devices/meter-7/telemetry')).toBe(true);
  });

  it('substitutes %c and %u in pattern allow and deny lines, deny winning', () => {
    const acl = AclRules.parse(fleet, 'fleet.acl');
    const d = device('alice');
    expect(acl.canPublish(d, 'c-1', 'clients/c-1/status')).toBe(true);
    expect(acl.canSubscribe(d, 'c-1', 'clients/c-1/#')).toBe(true);
    expect(acl.canPublish(d, 'c-1', 'clients/c-1/private/secrets')).toBe(false);
    expect(acl.canReceive(d, 'c-1', 'clients/c-1/private/secrets')).toBe(false);
    expect(acl.canPublish(d, 'c-1', 'clients/c-2/status')).toBe(false);
    expect(acl.canSubscribe(d, 'c-1', 'users/alice/#')).toBe(true);
    expect(acl.canSubscribe(d, 'c-1', 'users/bob/#')).toBe(false);
  });

  it('lets a deny pattern take a client id with a separator literally (it only widens what is denied)', () => {
    const acl = AclRules.parse('topic readwrite #\npattern deny home/%c\n');
    expect(acl.canPublish(device('x'), 'a/b', 'home/a/b')).toBe(false);
    expect(acl.canPublish(device('x'), 'a/b', 'home/a')).toBe(true);
    expect(acl.canPublish(device('x'), '+', 'home/anything')).toBe(false);
  });

  it('reads user names and topics with spaces after an access word, as mosquitto does', () => {
    const acl = AclRules.parse(fleet, 'fleet.acl');
    const ops = device('ops team');
    expect(acl.canPublish(ops, 'o', 'ops/deploy')).toBe(true);
    expect(acl.canPublish(ops, 'o', 'ops/audit/log')).toBe(false);
    expect(acl.canSubscribe(ops, 'o', 'ops/#')).toBe(true);
    expect(acl.canReceive(ops, 'o', 'ops/audit/log')).toBe(false);
    expect(acl.canPublish(ops, 'o', 'site status/board')).toBe(true);
    expect(acl.canPublish(device('ops'), 'o', 'ops/deploy')).toBe(false);
  });

  it('applies a user-scoped deny only to that user', () => {
    const acl = AclRules.parse('topic readwrite ops/#\nuser auditor\ntopic deny ops/audit/#\n');
    expect(acl.canPublish(device('auditor'), 'a', 'ops/audit/x')).toBe(false);
    expect(acl.canPublish(device('other'), 'o', 'ops/audit/x')).toBe(true);
    expect(acl.hasDenyFor(device('other'))).toBe(false);
  });

  it('denies services their built-in rules too', () => {
    const acl = AclRules.parse('topic deny devices/secret-1/#\n');
    const svc = service('dash');
    expect(acl.canSubscribe(svc, 'dash-1', 'devices/secret-1/telemetry')).toBe(false);
    expect(acl.canPublish(svc, 'dash-1', 'devices/secret-1/commands/x')).toBe(false);
    expect(acl.canSubscribe(svc, 'dash-1', 'devices/+/telemetry')).toBe(true);
    expect(acl.canReceive(svc, 'dash-1', 'devices/secret-1/telemetry')).toBe(false);
  });
});

describe('ACL parse errors', () => {
  it('name the line number, the line and what was expected', () => {
    const err = parseError('# ok\ntopic read a/b\n  topic allow secret/#\n');
    expect(err.message).toContain('test.acl: line 3');
    expect(err.message).toContain('"topic allow secret/#"');
    expect(err.message).toContain('topic [read|write|readwrite|deny] <topic>');
    expect(err.code).toBe('SLUICE_ACL_FILE_INVALID');
  });

  it('refuse each kind of malformed line', () => {
    expect(parseError('allow everything').message).toMatch(/line 1 .*expected "user", "topic" or "pattern"/);
    expect(parseError('\nuser').message).toMatch(/line 2 .*user <name>/);
    expect(parseError('topic').message).toMatch(/line 1 .*topic is missing/);
    expect(parseError('topic deny').message).toMatch(/line 1 .*<topic>/);
    expect(parseError('topic reed a/b').message).toMatch(/got access "reed"/);
    expect(parseError('\n\n\npattern write a/#/b').message).toMatch(/line 4 .*not a valid MQTT topic filter/);
    expect(parseError('\n\n\npattern deny a/#/b').message).toMatch(/line 4 .*not a valid MQTT topic filter/);
    expect(parseError('topic read devices/%u/x').message).toMatch(/only substituted in "pattern"/);
  });
});

describe('deniesPublish (mapped topics: the mapping grants, a deny still refuses)', () => {
  it('is true only where an applicable deny rule matches the topic', () => {
    const acl = AclRules.parse('pattern deny factory/+/%u/telemetry\nuser bridge\ntopic deny factory/bergen/#\n');
    expect(acl.deniesPublish(device('p1'), 'p1', 'factory/oslo/p1/telemetry')).toBe(true);
    expect(acl.deniesPublish(device('p1'), 'p1', 'factory/oslo/p2/telemetry')).toBe(false);
    expect(acl.deniesPublish(service('bridge'), 'bridge', 'factory/bergen/p2/telemetry')).toBe(true);
    expect(acl.deniesPublish(service('other'), 'other', 'factory/bergen/p2/telemetry')).toBe(false);
    expect(AclRules.defaults().deniesPublish(device('p1'), 'p1', 'factory/oslo/p1/telemetry')).toBe(false);
  });
});
