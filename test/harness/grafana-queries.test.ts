/** Unit tests of the Grafana query expansion the dashboard test relies on. */
import { describe, expect, it } from 'vitest';
import {
  applyVariableRegex,
  expandMacros,
  formatInterval,
  interpolateVariables,
  metricFindValues,
  panelIntervalMs,
  parseInterval,
  resolveVariables,
  selectOnLoad,
  sortVariableValues,
  type DashboardVariable,
  type InfluxResult,
  type VariableSelection,
} from './grafana-queries.js';

const single = (name: string): DashboardVariable => ({ name, type: 'query' });
const multi = (name: string, allValue?: string): DashboardVariable => ({ name, type: 'query', multi: true, includeAll: true, ...(allValue ? { allValue } : {}) });
const pick = (variable: DashboardVariable, values: string[], all = false): [string, VariableSelection] => [variable.name, { variable, values, all }];

describe('interpolateVariables (the InfluxDB data source interpolateQueryExpr)', () => {
  it('escapes a single value used inside /…/ and leaves it raw elsewhere', () => {
    const vars = new Map([pick(single('device'), ['sim.0(1)'])]);
    expect(interpolateVariables(`SELECT * FROM m WHERE "device" =~ /^$device$/`, vars)).toBe(`SELECT * FROM m WHERE "device" =~ /^sim\\.0\\(1\\)$/`);
    expect(interpolateVariables(`SELECT * FROM m WHERE "device" = '$device'`, vars)).toBe(`SELECT * FROM m WHERE "device" = 'sim.0(1)'`);
    // Variable queries: Grafana passes no query, so single values go in raw.
    expect(interpolateVariables('SHOW TAG VALUES FROM /^$device$/ WITH KEY = "x"', vars, 'variable')).toBe('SHOW TAG VALUES FROM /^sim.0(1)$/ WITH KEY = "x"');
  });

  it('puts multi values in (a|b), one selected value in (a), numbers and custom All values raw', () => {
    const node = multi('node', '.*');
    expect(interpolateVariables('/^$node$/', new Map([pick(node, ['a.b', 'c'])]))).toBe('/^(a\\.b|c)$/');
    expect(interpolateVariables('/^$node$/', new Map([pick(node, ['vm'])]))).toBe('/^(vm)$/');
    expect(interpolateVariables('/^$node$/', new Map([pick(node, ['vm', 'x'], true)]))).toBe('/^.*$/');
    const partition = single('partition');
    expect(interpolateVariables('/^$partition$/', new Map([pick(partition, ['12'])]))).toBe('/^12$/');
    // "All" without an allValue: every option, escaped, as (a|b).
    expect(interpolateVariables('/^$p$/', new Map([pick(multi('p'), ['1', '2'], true)]))).toBe('/^(1|2)$/');
  });

  it('knows $x, ${x} and [[x]], and leaves macros and unknown names alone', () => {
    const vars = new Map([pick(single('window'), ['telemetry_10s'])]);
    expect(interpolateVariables('FROM "${window}" WHERE $timeFilter GROUP BY time($__interval) -- [[window]] $other', vars)).toBe(
      'FROM "telemetry_10s" WHERE $timeFilter GROUP BY time($__interval) -- telemetry_10s $other',
    );
    expect(() => interpolateVariables('${window:csv}', vars)).toThrow(/not supported/);
  });
});

describe('expandMacros (the backend Query.Build)', () => {
  it('expands $timeFilter, $__interval_ms and $__interval in Grafana\'s forms', () => {
    const q = 'SELECT mean(x) FROM m WHERE $timeFilter GROUP BY time($__interval) -- $__interval_ms $interval';
    expect(expandMacros(q, { fromMs: 1_700_000_000_000, toMs: 1_700_000_900_000, intervalMs: 5000 })).toBe(
      'SELECT mean(x) FROM m WHERE time >= 1700000000000ms and time <= 1700000900000ms GROUP BY time(5s) -- 5000 5s',
    );
  });

  it('formats intervals by their largest whole unit, as gtime.FormatInterval', () => {
    expect([250, 1000, 5000, 90_000, 3_600_000, 2 * 86_400_000].map(formatInterval)).toEqual(['250ms', '1s', '5s', '1m', '1h', '2d']);
    expect(parseInterval('5s')).toBe(5000);
    expect(panelIntervalMs(15 * 60_000, 5000)).toBe(5000);
    expect(panelIntervalMs(24 * 3600_000, 5000)).toBe(86_400);
  });
});

describe('variable options', () => {
  const result = (column: string, values: string[]): InfluxResult => ({ series: [{ name: 'm', columns: ['key', column].slice(column === 'name' ? 1 : 0), values: values.map((v) => (column === 'name' ? [v] : ['k', v])) }] });

  it('takes SHOW TAG VALUES values and SHOW MEASUREMENTS names, de-duplicated', () => {
    expect(metricFindValues(result('value', ['b', 'a', 'b']))).toEqual(['b', 'a']);
    expect(metricFindValues(result('name', ['late_readings', 'sluice_stats', 'telemetry_10s']))).toEqual(['late_readings', 'sluice_stats', 'telemetry_10s']);
  });

  it('filters by the regex (capture group or named groups) and sorts as Grafana', () => {
    const names = ['late_readings', 'readings', 'sliding_10s', 'sluice_stats', 'telemetry_10s'];
    expect(applyVariableRegex(names, '/^(?!(?:sluice_stats|late_readings|readings)$).+$/')).toEqual(['sliding_10s', 'telemetry_10s']);
    expect(applyVariableRegex(['host-a.x', 'host-b.x'], '/host-(.*)\\.x/')).toEqual(['a', 'b']);
    expect(applyVariableRegex(['id=1 name=a'], '/id=(?<value>\\d+) name=(?<text>\\w+)/')).toEqual(['1']);
    expect(sortVariableValues(['10', '2', '1'], 3)).toEqual(['1', '2', '10']);
    expect(sortVariableValues(['b', 'a', 'c'], 1)).toEqual(['a', 'b', 'c']);
    expect(sortVariableValues(['b', 'a', 'c'], 0)).toEqual(['b', 'a', 'c']);
  });

  it('selects All where the dashboard saved All, else the first option', () => {
    const node: DashboardVariable = { ...multi('node', '.*'), current: { text: ['All'], value: ['$__all'] } };
    expect(selectOnLoad(node, ['a', 'b'])).toMatchObject({ values: ['a', 'b'], all: true });
    expect(selectOnLoad(single('device'), ['a', 'b'])).toMatchObject({ values: ['a'], all: false });
    expect(() => selectOnLoad(single('device'), [])).toThrow(/no options/);
  });

  it('resolves variables in order, each query seeing the ones before it', async () => {
    const sent: string[] = [];
    const answers: Record<string, string[]> = {
      'SHOW MEASUREMENTS': ['late_readings', 'sluice_stats', 'telemetry_10s'],
      'SHOW TAG VALUES FROM /^telemetry_10s$/ WITH KEY = "device"': ['sim-2', 'sim-1'],
      'SHOW TAG VALUES FROM /^telemetry_10s$/ WITH KEY = "metric" WHERE "device" =~ /^sim-1$/ AND time >= 0ms and time <= 10ms': ['temp'],
    };
    const run = async (q: string): Promise<InfluxResult> => {
      sent.push(q);
      return { series: [{ name: 'x', columns: ['key', 'value'], values: (answers[q] ?? []).map((v) => ['k', v]) }] };
    };
    const resolved = await resolveVariables(
      {
        uid: 'u', title: 't', schemaVersion: 39, panels: [],
        templating: {
          list: [
            { name: 'window', type: 'query', query: 'SHOW MEASUREMENTS', regex: '/^(?!(?:sluice_stats|late_readings)$).+$/' },
            { name: 'device', type: 'query', query: 'SHOW TAG VALUES FROM /^$window$/ WITH KEY = "device"', sort: 1 },
            { name: 'metric', type: 'query', query: { query: 'SHOW TAG VALUES FROM /^$window$/ WITH KEY = "metric" WHERE "device" =~ /^$device$/ AND $timeFilter' } },
            { name: 'stat', type: 'custom', query: 'mean,max' },
          ],
        },
      },
      run,
      { fromMs: 0, toMs: 10, intervalMs: 5000 },
    );
    expect(sent).toEqual(Object.keys(answers));
    expect([...resolved].map(([name, r]) => [name, r.selection.values])).toEqual([
      ['window', ['telemetry_10s']],
      ['device', ['sim-1']],
      ['metric', ['temp']],
      ['stat', ['mean']],
    ]);
  });
});
