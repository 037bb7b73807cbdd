/**
 * grafana/: the provisioning files and dashboards are well formed, and every panel and
 * variable query, expanded as Grafana would, runs on real data: a real influxd after a short
 * simulator run through a real `sluice start`.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  allPanels,
  panelIntervalMs,
  panelQuery,
  parseInterval,
  referencedNames,
  resolveVariables,
  runInfluxQL,
  variableQueryText,
  type Dashboard,
  type DashboardPanel,
} from './harness/grafana-queries.js';
import { SparkplugDataType as T, SparkplugPayload, type SparkplugPayloadProps } from '../proto/index.js';
import { connectDevice, deviceToken } from './harness/devices.js';
import { freePort, startInfluxd, type TestInfluxd } from './harness/influxdb.js';
import { startNatsServer, type TestNats } from './harness/nats-server.js';
import { SLUICE_BIN, spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const GRAFANA = fileURLToPath(new URL('../grafana/', import.meta.url));
const DASHBOARDS = join(GRAFANA, 'dashboards');
const FILES = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json')).sort();
const load = (file: string) => JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard;

interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: string;
  access: string;
  url: string;
  jsonData: { version?: string; dbName?: string; timeInterval?: string };
}
const provisioned = parse(readFileSync(join(GRAFANA, 'provisioning/datasources/sluice-influxdb.yaml'), 'utf8')) as { apiVersion: number; datasources: ProvisionedDatasource[] };
const datasource = provisioned.datasources[0]!;
const DS_REF = { type: datasource.type, uid: datasource.uid };
/** Grafana's own macros, which the backend expands (everything else must be a dashboard variable). */
const MACROS = ['timeFilter', '__interval', '__interval_ms', 'interval'];

describe('provisioning', () => {
  it('provisions one InfluxQL data source, uid sluice-influxdb, from environment variables', () => {
    expect(provisioned.apiVersion).toBe(1);
    expect(provisioned.datasources).toHaveLength(1);
    expect(datasource).toMatchObject({ uid: 'sluice-influxdb', type: 'influxdb', access: 'proxy', url: '$SLUICE_INFLUX_URL' });
    expect(datasource.jsonData).toMatchObject({ version: 'InfluxQL', dbName: '$SLUICE_INFLUX_DATABASE' });
    expect(parseInterval(datasource.jsonData.timeInterval ?? '')).toBeGreaterThan(0);
  });

  it('loads the dashboards folder from a file provider', () => {
    const doc = parse(readFileSync(join(GRAFANA, 'provisioning/dashboards/sluice.yaml'), 'utf8')) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    expect(doc.apiVersion).toBe(1);
    expect(doc.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: '$SLUICE_GRAFANA_DASHBOARDS' }) })]);
  });

  it('ships the three dashboards with stable, distinct uids', () => {
    expect(FILES).toEqual(['device-drilldown.json', 'fleet-overview.json', 'pipeline-health.json']);
    expect(FILES.map((f) => load(f).uid)).toEqual(['sluice-device', 'sluice-fleet', 'sluice-pipeline']);
  });
});

describe.each(FILES)('%s', (file) => {
  it('parses and has uid, title, schemaVersion, panels with gridPos and the provisioned data source', () => {
    const d = load(file);
    expect(d.uid).toMatch(/^[\w-]{1,40}$/);
    expect(d.title).toEqual(expect.any(String));
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels(d.panels);
    expect(panels.length).toBeGreaterThan(0);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      const where = `${file} panel "${p.title}"`;
      expect(p.gridPos, where).toEqual({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
      expect(p.gridPos!.x + p.gridPos!.w, where).toBeLessThanOrEqual(24);
      // A row only groups panels (collapsed, it holds them): it queries nothing itself.
      if (p.type === 'row') {
        expect(p.targets, where).toBeUndefined();
        expect(p.panels?.length, where).toBeGreaterThan(0);
        continue;
      }
      expect(p.datasource, where).toEqual(DS_REF);
      expect(p.targets?.length, where).toBeGreaterThan(0);
      expect(new Set(p.targets!.map((t) => t.refId)).size, where).toBe(p.targets!.length);
      for (const t of p.targets!) {
        expect(t.datasource ?? DS_REF, `${where} ${t.refId}`).toEqual(DS_REF);
        expect(t, `${where} ${t.refId}`).toMatchObject({ rawQuery: true, query: expect.stringMatching(/^SELECT /) });
        expect(t.hide, `${where} ${t.refId}`).not.toBe(true);
      }
    }
  });

  it('uses only its own variables, each after the ones it depends on, and Grafana macros', () => {
    const d = load(file);
    const defined: string[] = [];
    for (const v of d.templating?.list ?? []) {
      if (v.type === 'query') expect(v.datasource, `$${v.name}`).toEqual(DS_REF);
      for (const name of referencedNames(variableQueryText(v))) expect([...defined, ...MACROS], `$${v.name} refers to $${name}`).toContain(name);
      defined.push(v.name);
    }
    for (const p of allPanels(d.panels)) {
      for (const t of p.targets ?? []) {
        for (const name of referencedNames(t.query ?? '')) expect([...defined, ...MACROS], `"${p.title}" ${t.refId} refers to $${name}`).toContain(name);
      }
    }
  });
});

describe('on real data: influxd after a simulator run through sluice start, and two processors sharing partitions', () => {
  const DB = 'sluice';
  let influx: TestInfluxd;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: SluiceProcess | undefined;
  let nats: TestNats | undefined;
  const clusterProcessors: SluiceProcess[] = [];

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = await tempDir('sluice-grafana-');
    const configFile = join(dir.path, 'sluice.yaml');
    const mqttPort = await freePort();
    // A rule every simulated device trips on its first window, so the alerts panels have data.
    const rulesFile = join(dir.path, 'rules.yaml');
    await writeFile(rulesFile, stringify({ rules: [{ name: 'reporting', severity: 'info', threshold: { metric: 'temperature', aggregate: 'count', op: '>', value: 0, for: 1 } }] }));
    await writeFile(
      configFile,
      stringify({
        rules: { file: rulesFile },
        dataDir: join(dir.path, 'data'),
        mqtt: { host: '127.0.0.1', port: mqttPort },
        http: { host: '127.0.0.1', port: await freePort() },
        auth: { mode: 'token', fleetKey: 'grafana-dashboards-fleet-key-0123' },
        ingest: { sparkplug: true },
        decode: { threads: 1 },
        influx: { url: influx.url, database: DB, flushInterval: '200ms' },
        // Small lateness with readings stamped up to 20 s early: late_readings fills up.
        time: { maxOutOfOrderness: '1s', idleTimeout: '1s', allowedLateness: '1s' },
        checkpoint: { interval: '500ms' },
        stats: { interval: '1s' },
        windows: [
          { name: 'telemetry_10s', type: 'tumbling', size: '10s' },
          { name: 'sliding_10s', type: 'sliding', size: '10s', slide: '5s' },
        ],
      }),
    );
    node = spawnSluice(['start', '--config', configFile]);
    await node.ready;
    // Disorder, duplicates and malformed payloads so late readings, duplicates and rejects by reason all have data.
    await run(process.execPath, [
      SLUICE_BIN, 'simulate', '--config', configFile, '--devices', '20', '--rate', '400', '--duration', '4s', '--seed', '7',
      '--disorder', '0.2', '--max-delay', '20s', '--duplicates', '0.05', '--malformed', '0.05', '--no-progress',
    ]);
    // A Sparkplug B edge node with two devices, one of which dies: the device_status panels have data.
    // Births without readings: the device variables keep listing simulated devices first.
    const edge = await connectDevice(`mqtt://127.0.0.1:${mqttPort}`, 'edge1', deviceToken('grafana-dashboards-fleet-key-0123', 'edge1'));
    const sparkplug = (topic: string, p: SparkplugPayloadProps) => edge.publishAsync(`spBv1.0/plant/${topic}`, Buffer.from(SparkplugPayload.encode(p).finish()), { qos: 1 });
    const t = Date.now() - 1000;
    await sparkplug('NBIRTH/edge1', { timestamp: t, seq: 0, metrics: [{ name: 'bdSeq', datatype: T.Int64, longValue: 0 }] });
    await sparkplug('DBIRTH/edge1/pump', { timestamp: t + 1, seq: 1, metrics: [] });
    await sparkplug('DBIRTH/edge1/valve', { timestamp: t + 2, seq: 2, metrics: [] });
    await sparkplug('DDEATH/edge1/valve', { timestamp: t + 3, seq: 3 });
    await edge.endAsync();
    // The Cluster row: two processors of distributed mode reporting to the same database. The
    // second joins after the first holds every partition, so the first hands half over.
    nats = await startNatsServer();
    const clusterConfig = join(dir.path, 'cluster.yaml');
    await writeFile(
      clusterConfig,
      stringify({
        log: { kind: 'jetstream' },
        nats: { servers: nats.servers },
        partitions: 8,
        mqtt: { host: '127.0.0.1' },
        http: { host: '127.0.0.1' },
        auth: { mode: 'token', fleetKey: 'grafana-dashboards-fleet-key-0123' },
        influx: { url: influx.url, database: DB, flushInterval: '200ms' },
        stats: { interval: '1s' },
        cluster: { handoffGrace: '1s' },
      }),
    );
    for (const i of [0, 1]) {
      const p = spawnSluice(['processor', '--config', clusterConfig, '--data-dir', join(dir.path, `cluster-${i}`), '--http-port', '0', '--set', `stats.node=cluster-${i}`]);
      clusterProcessors.push(p);
      await p.ready;
    }
  });

  afterAll(async () => {
    for (const p of [...clusterProcessors, ...(node ? [node] : [])]) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
    await nats?.destroy();
    await influx?.destroy();
    await dir?.remove();
  });

  /** Every variable and panel query of one dashboard; returns what failed (empty: all ran and returned a series). */
  async function check(d: Dashboard): Promise<{ failures: string[]; queries: number }> {
    const toMs = Date.now();
    const fromMs = toMs - 15 * 60_000; // the dashboards' default range, now-15m to now
    const minInterval = parseInterval(datasource.jsonData.timeInterval ?? '1ms');
    const exec = (q: string) => runInfluxQL(influx.url, DB, q);
    let variables;
    try {
      variables = await resolveVariables(d, exec, { fromMs, toMs, intervalMs: panelIntervalMs(toMs - fromMs, minInterval) });
    } catch (err) {
      return { failures: [`${d.title}: ${(err as Error).message}`], queries: 0 };
    }
    const failures: string[] = [];
    let queries = variables.size;
    const describePanel = (p: DashboardPanel, refId: string) => `${d.title} / panel "${p.title}" ${refId}`;
    for (const p of allPanels(d.panels)) {
      const intervalMs = panelIntervalMs(toMs - fromMs, p.interval ? parseInterval(p.interval) : minInterval);
      for (const t of p.targets ?? []) {
        const q = panelQuery(t, variables, { fromMs, toMs, intervalMs });
        queries++;
        const left = referencedNames(q);
        if (left.length > 0) {
          failures.push(`${describePanel(p, t.refId)}: unresolved ${left.join(', ')} in ${q}`);
          continue;
        }
        const result = await exec(q);
        if (result.error !== undefined) failures.push(`${describePanel(p, t.refId)}: ${result.error}\n    ${q}`);
        else if (result.series.length === 0) failures.push(`${describePanel(p, t.refId)}: no series\n    ${q}`);
      }
    }
    for (const a of d.annotations?.list ?? []) {
      if (a.query === undefined) continue;
      const q = panelQuery({ refId: 'annotation', query: a.query }, variables, { fromMs, toMs, intervalMs: panelIntervalMs(toMs - fromMs, minInterval) });
      queries++;
      const result = await exec(q);
      if (result.error !== undefined) failures.push(`${d.title} / annotation "${a.name}": ${result.error}\n    ${q}`);
      else if (result.series.length === 0) failures.push(`${d.title} / annotation "${a.name}": no series\n    ${q}`);
    }
    return { failures, queries };
  }

  it('fleet-overview.json: the Sparkplug B panels show the last status of each edge node and device', async () => {
    const d = load('fleet-overview.json');
    const panel = (title: string) => allPanels(d.panels).find((p) => p.title === title)!;
    const run = async (p: DashboardPanel, refId: string) => {
      const toMs = Date.now();
      const q = panelQuery(p.targets!.find((t) => t.refId === refId)!, new Map(), { fromMs: toMs - 15 * 60_000, toMs, intervalMs: 5000 });
      return runInfluxQL(influx.url, DB, q);
    };
    const table = panel('Sparkplug B edge nodes and devices');
    let result = await run(table, 'A');
    for (const deadline = Date.now() + 20_000; (result.series.length < 3 || result.error !== undefined) && Date.now() < deadline; result = await run(table, 'A')) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const rows = result.series.map((s) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]])) }));
    expect(rows.map((r) => [r.device, r.kind, r.online, r.event]).sort()).toEqual([
      ['plant:edge1', 'node', 1, 'NBIRTH'],
      ['plant:edge1:pump', 'device', 1, 'DBIRTH'],
      ['plant:edge1:valve', 'device', 0, 'DDEATH'],
    ]);
    const counts = panel('Sparkplug B online / offline');
    expect((await run(counts, 'A')).series[0]!.values[0]![1]).toBe(2);
    expect((await run(counts, 'B')).series[0]!.values[0]![1]).toBe(1);
  });

  it.each(FILES)('%s: every variable and panel query runs and returns at least one series', async (file) => {
    onTestFailed(() => {
      console.error(`sluice output:\n${node?.output.slice(-30).join('\n')}`);
      for (const [i, p] of clusterProcessors.entries()) console.error(`cluster processor ${i} output:\n${p.output.slice(-20).join('\n')}`);
    });
    const d = load(file);
    // Windows close once the watermark passes them and sluice_stats accumulates every second:
    // poll until every query has data, within a bound.
    const deadline = Date.now() + 30_000;
    let last = await check(d);
    while (last.failures.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      last = await check(d);
    }
    expect(last.failures).toEqual([]);
    expect(last.queries).toBeGreaterThan(5);
  }, 45_000);
});
