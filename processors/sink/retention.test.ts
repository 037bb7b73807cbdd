import { describe, expect, it } from 'vitest';
import { processorConfigSchema } from '../config.js';
import { influxConfigSchema } from './config.js';
import { createRetentionPolicyStatement, retentionPoliciesUsed, retentionRoute } from './retention.js';

const messages = (input: unknown): string[] => {
  const result = influxConfigSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

const SPLIT = {
  retentionPolicies: { raw: 'short', windows: 'long' },
  createRetentionPolicies: [{ name: 'short', duration: '1d' }, { name: 'long', duration: 'INF', shardDuration: '7d' }],
};

describe('influx.retentionPolicies and influx.createRetentionPolicies', () => {
  it('are absent by default: every output goes to influx.retentionPolicy, no route, nothing created', () => {
    const config = influxConfigSchema.parse({});
    expect(config.retentionPolicies).toBeUndefined();
    expect(config.createRetentionPolicies).toBeUndefined();
    expect(retentionRoute(config)).toBeUndefined();
    expect(retentionPoliciesUsed(config)).toEqual([]);
    expect(retentionPoliciesUsed(influxConfigSchema.parse({ retentionPolicy: 'autogen' }))).toEqual(['autogen']);
  });

  it('fill replication 1 and route each output to its policy, the others to the default (undefined)', () => {
    const config = influxConfigSchema.parse({ ...SPLIT, retentionPolicies: { ...SPLIT.retentionPolicies, stats: 'long', status: 'short' } });
    expect(config.createRetentionPolicies).toEqual([
      { name: 'short', duration: '1d', replication: 1 },
      { name: 'long', duration: 'INF', replication: 1, shardDuration: '7d' },
    ]);
    const route = retentionRoute(config)!;
    expect(['readings', 'late_readings', 'telemetry_10s', 'any_window', 'alerts', 'sluice_stats', 'device_status'].map(route))
      .toEqual(['short', 'short', 'long', 'long', undefined, 'long', 'short']);
  });

  it('falls back to influx.retentionPolicy, which the writer uses for an undefined route', () => {
    const config = influxConfigSchema.parse({ retentionPolicy: 'autogen', retentionPolicies: { alerts: 'year' }, createRetentionPolicies: [{ name: 'year', duration: '52w' }] });
    expect(retentionRoute(config)!('alerts')).toBe('year');
    expect(retentionRoute(config)!('readings')).toBeUndefined();
    expect(retentionPoliciesUsed(config)).toEqual(['autogen', 'year']);
  });

  it('build CREATE RETENTION POLICY without DEFAULT, names quoted', () => {
    expect(createRetentionPolicyStatement('my db', { name: 'short', duration: '1d', replication: 1 }))
      .toBe('CREATE RETENTION POLICY "short" ON "my db" DURATION 1d REPLICATION 1');
    expect(createRetentionPolicyStatement('db', { name: 'a"b', duration: 'INF', replication: 2, shardDuration: '7d' }))
      .toBe('CREATE RETENTION POLICY "a\\"b" ON "db" DURATION INF REPLICATION 2 SHARD DURATION 7d');
  });

  it('refuse durations InfluxDB would refuse, naming key and value', () => {
    expect(messages({ retentionPolicies: { raw: 'r' }, createRetentionPolicies: [{ name: 'r', duration: '30m' }] }))
      .toEqual(['createRetentionPolicies.0.duration: expected an InfluxQL duration of at least 1h (e.g. \'7d\', \'52w\', \'1h30m\') or INF, got "30m"']);
    expect(messages({ retentionPolicies: { raw: 'r' }, createRetentionPolicies: [{ name: 'r', duration: '7 days' }] })[0]).toMatch(/^createRetentionPolicies\.0\.duration: .* got "7 days"$/);
    expect(messages({ retentionPolicies: { raw: 'r' }, createRetentionPolicies: [{ name: 'r', duration: '1h30m', shardDuration: 'INF' }] }))
      .toEqual(['createRetentionPolicies.0.shardDuration: expected an InfluxQL duration of at least 1h (e.g. \'1h\', \'1d\', \'7d\'), got "INF"']);
    expect(messages({ retentionPolicies: { raw: 'r' }, createRetentionPolicies: [{ name: 'r' }] })[0]).toMatch(/^createRetentionPolicies\.0\.duration: /);
  });

  it('refuse unknown outputs and keys, twice-defined and unused definitions', () => {
    expect(messages({ retentionPolicies: { readings: 'short' } }).join()).toMatch(/readings/);
    expect(messages({ retentionPolicies: { raw: 'r' }, createRetentionPolicies: [{ name: 'r', duration: '1d', default: true }] }).join()).toMatch(/default/);
    expect(messages({ retentionPolicies: { raw: 'r' }, createRetentionPolicies: [{ name: 'r', duration: '1d' }, { name: 'r', duration: '2d' }] }))
      .toEqual(['createRetentionPolicies.1.name: influx.createRetentionPolicies[1].name "r" is defined twice: keep one definition']);
    expect(messages({ retentionPolicies: { raw: 'short' }, createRetentionPolicies: [{ name: 'shrot', duration: '1d' }] }))
      .toEqual(['createRetentionPolicies.0.name: influx.createRetentionPolicies[0].name "shrot" is not written to: name it in influx.retentionPolicies (raw, windows, alerts, stats, status) or influx.retentionPolicy, or remove the definition']);
    expect(messages({ retentionPolicies: { raw: '' } })).toEqual(['retentionPolicies.raw: expected a retention policy name']);
  });

  it('are refused for InfluxDB 2.x, which writes every output to its bucket', () => {
    const v2 = { version: 2, bucket: 'b', org: 'o', token: 't' };
    expect(messages({ ...v2, retentionPolicies: { raw: 'short' } })).toEqual([
      'retentionPolicies: influx.retentionPolicies is only used with InfluxDB 1.x (2.x has no retention policies on the write path, and Sluice writes every output to influx.bucket): remove it and set the bucket\'s retention, or set influx.version: 1',
    ]);
    expect(messages({ ...v2, createRetentionPolicies: [] })[0]).toMatch(/^createRetentionPolicies: influx\.createRetentionPolicies is only used with InfluxDB 1\.x/);
  });

  it('leave outputs.raw a boolean, as config files have it', () => {
    const config = processorConfigSchema.parse({ outputs: { raw: true }, influx: SPLIT });
    expect(config.outputs).toEqual({ raw: true });
    expect(config.influx.retentionPolicies).toEqual({ raw: 'short', windows: 'long' });
    expect(processorConfigSchema.parse({}).outputs).toEqual({ raw: false });
  });
});
