/**
 * Runs Grafana dashboard queries the way Grafana's InfluxDB (InfluxQL) data source does, so
 * a test can execute every panel and variable query of a dashboard JSON against a real influxd.
 *
 * What it copies from Grafana (public/app/plugins/datasource/influxdb/datasource.ts and
 * pkg/tsdb/influxdb/models/query.go):
 * - template variables `$name`, `${name}`, `[[name]]` (templateSrv's pattern), formatted by the
 *   data source's `interpolateQueryExpr`: a number goes in as is; a multi-value variable is
 *   regex-escaped and several values become `(a|b)`; a single-value variable is escaped only
 *   where the query uses it inside `/.../`; "All" with an `allValue` goes in raw;
 * - the backend macros, in its order: `$timeFilter` → `time >= <from>ms and time <= <to>ms`,
 *   `$interval`, `$__interval_ms`, `$__interval` (formatted like gtime.FormatInterval);
 * - variable options: values of the first string column, de-duplicated, filtered by the
 *   variable's `regex` (first capture group, or named groups `text`/`value`) and sorted by `sort`.
 */

/** A variable as the dashboard JSON's `templating.list` holds it (the fields used here). */
export interface DashboardVariable {
  name: string;
  type: string;
  query?: string | { query: string };
  definition?: string;
  regex?: string;
  sort?: number;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { value?: string | string[]; text?: string | string[] };
  datasource?: { type?: string; uid?: string };
}

/** A panel target (the fields used here). */
export interface PanelTarget {
  refId: string;
  query?: string;
  rawQuery?: boolean;
  resultFormat?: string;
  hide?: boolean;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id?: number;
  type: string;
  title: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  interval?: string;
  targets?: PanelTarget[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating?: { list: DashboardVariable[] };
  /** Annotation queries; those with a `query` run on the InfluxDB data source. */
  annotations?: { list: { name: string; query?: string }[] };
}

/** What a variable is set to: one value, several, or "All". */
export interface VariableSelection {
  variable: DashboardVariable;
  /** The selected values; for "All", every option. */
  values: string[];
  all: boolean;
}

export const ALL_VALUE = '$__all';

/** Grafana's escapeRegex (@grafana/data). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** The text of a variable's query (a string, or `{ query }` as newer editors save it). */
export function variableQueryText(variable: DashboardVariable): string {
  const q = variable.query;
  return typeof q === 'string' ? q : (q?.query ?? '');
}

/**
 * The InfluxDB data source's `interpolateQueryExpr`: how one variable's value goes into
 * `query` (pass `undefined` for variable queries, where Grafana does not pass the query).
 */
export function formatValue(value: string | string[], variable: DashboardVariable, query: string | undefined): string {
  if (typeof value === 'string' && !Number.isNaN(Number.parseFloat(value))) return value;
  if (variable.multi) {
    if (typeof value === 'string') return escapeRegex(value);
    return `(${value.map(escapeRegex).join('|')})`;
  }
  const insideRegex = new RegExp(`\\/(?:\\^)?(.*)(\\$${variable.name})(.*)(?:\\$)?\\/`, 'm');
  if (query !== undefined && insideRegex.test(query)) {
    if (typeof value === 'string') return escapeRegex(value);
    return `(${value.map(escapeRegex).join('|')})`;
  }
  return typeof value === 'string' ? value : value.join(',');
}

/** templateSrv's variable pattern: `$name`, `[[name]]`, `[[name:fmt]]`, `${name}`, `${name:fmt}`. */
const VARIABLE_PATTERN = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/**
 * Replaces the dashboard's template variables in `text` as Grafana's InfluxDB data source does.
 * A panel query is checked for `/…$var…/` to decide on escaping; for a variable query Grafana
 * passes no query, so single values go in raw there. Names that are not variables
 * (`$timeFilter`, `$__interval`) stay for {@link expandMacros}.
 */
export function interpolateVariables(text: string, selections: ReadonlyMap<string, VariableSelection>, kind: 'panel' | 'variable' = 'panel'): string {
  const context = kind === 'panel' ? text : undefined;
  return text.replace(VARIABLE_PATTERN, (match, plain?: string, bracket?: string, bracketFmt?: string, braced?: string, fieldPath?: string, bracedFmt?: string) => {
    const name = plain ?? bracket ?? braced ?? '';
    const selection = selections.get(name);
    if (!selection) return match;
    if (bracketFmt !== undefined || bracedFmt !== undefined || fieldPath !== undefined) {
      throw new Error(`${match}: variable formats and field paths are not supported by this helper`);
    }
    const { variable } = selection;
    if (selection.all && variable.allValue) return variable.allValue; // Grafana skips formatting of a custom all value
    const value = selection.values.length === 1 && !selection.all && !variable.multi ? selection.values[0]! : selection.values;
    return formatValue(value, variable, context);
  });
}

/** gtime.FormatInterval: the largest whole unit (`5s`, `1m`, `200ms`). */
export function formatInterval(ms: number): string {
  const units: [number, string][] = [
    [365 * 24 * 3600_000, 'y'],
    [24 * 3600_000, 'd'],
    [3600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
    [1, 'ms'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return '1ms';
}

/** `5s`, `1m`, `250ms` → milliseconds. */
export function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`not an interval: ${text}`);
  const size = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * size;
}

/**
 * The panel interval Grafana computes: range / max data points, but never below the minimum
 * interval (the panel's `interval`, else the data source's `timeInterval`). Grafana also
 * rounds the first term to a "nice" step; with a minimum interval that wins, as for the
 * dashboards' default ranges, the rounding does not matter.
 */
export function panelIntervalMs(rangeMs: number, minIntervalMs: number, maxDataPoints = 1000): number {
  return Math.max(minIntervalMs, Math.ceil(rangeMs / maxDataPoints));
}

export interface MacroContext {
  fromMs: number;
  toMs: number;
  intervalMs: number;
}

/** The backend's macros, in the order pkg/tsdb/influxdb's Query.Build replaces them. */
export function expandMacros(query: string, { fromMs, toMs, intervalMs }: MacroContext): string {
  const intervalText = formatInterval(intervalMs);
  return query
    .replaceAll('$timeFilter', `time >= ${Math.trunc(fromMs)}ms and time <= ${Math.trunc(toMs)}ms`)
    .replaceAll('$interval', intervalText)
    .replaceAll('$__interval_ms', String(Math.trunc(intervalMs)))
    .replaceAll('$__interval', intervalText);
}

/** Variable names a text refers to (any `$name` / `${name}` / `[[name]]`, known or not); after expansion, what is left unresolved. */
export function referencedNames(text: string): string[] {
  return [...text.matchAll(VARIABLE_PATTERN)].map((m) => m[1] ?? m[2] ?? m[4] ?? '');
}

/** One InfluxQL result: its series, or the error InfluxDB returned. */
export interface InfluxResult {
  error?: string;
  series: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[];
}

/** Runs one statement on influxd's /query (epoch=ms, as Grafana asks). */
export async function runInfluxQL(url: string, db: string, query: string): Promise<InfluxResult> {
  const params = new URLSearchParams({ db, q: query, epoch: 'ms' });
  const res = await fetch(`${url}/query?${params}`);
  const body = (await res.json()) as { error?: string; results?: { error?: string; series?: InfluxResult['series'] }[] };
  const first = body.results?.[0];
  const error = body.error ?? first?.error ?? (res.ok ? undefined : `HTTP ${res.status}`);
  return { ...(error !== undefined ? { error } : {}), series: first?.series ?? [] };
}

/** Variable options from a metadata query's result: the `value`/`name` column, else the first non-time one. */
export function metricFindValues(result: InfluxResult): string[] {
  const seen = new Set<string>();
  for (const series of result.series) {
    let column = series.columns.findIndex((c) => c === 'value' || c === 'name');
    if (column < 0) column = series.columns.findIndex((c) => c !== 'time');
    if (column < 0) continue;
    for (const row of series.values) if (row[column] !== null && row[column] !== undefined) seen.add(String(row[column]));
  }
  return [...seen];
}

/** A JS regex written as Grafana takes it: `/pattern/flags` or a bare pattern. */
function toRegExp(text: string): RegExp {
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(text);
  return m ? new RegExp(m[1]!, m[2]) : new RegExp(text);
}

/** The variable's `regex` applied as Grafana does: keep matches; a capture group (or `text`/`value` group) becomes the value. */
export function applyVariableRegex(values: string[], regex: string | undefined): string[] {
  if (!regex) return values;
  const re = toRegExp(regex);
  const out: string[] = [];
  for (const value of values) {
    re.lastIndex = 0;
    const m = re.exec(value);
    if (!m) continue;
    const named = m.groups?.value ?? m.groups?.text;
    out.push(named ?? (m.length > 1 && m[1] !== undefined ? m[1] : value));
  }
  return [...new Set(out)];
}

/** Grafana's variable sort: 0 none, 1/2 alphabetical asc/desc, 3/4 numerical asc/desc, 5/6 case-insensitive asc/desc. */
export function sortVariableValues(values: string[], sort = 0): string[] {
  const numeric = (v: string) => {
    const m = /.*?(\d+).*/.exec(v);
    return m ? Number(m[1]) : -1;
  };
  const sorted = [...values];
  if (sort === 1 || sort === 2) sorted.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  else if (sort === 3 || sort === 4) sorted.sort((a, b) => numeric(a) - numeric(b));
  else if (sort === 5 || sort === 6) sorted.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  if (sort === 2 || sort === 4 || sort === 6) sorted.reverse();
  return sorted;
}

/** The value Grafana selects on load: "All" where the saved `current` is All, else the first option. */
export function selectOnLoad(variable: DashboardVariable, options: string[]): VariableSelection {
  if (options.length === 0) throw new Error(`variable $${variable.name} has no options (query: ${variableQueryText(variable)})`);
  const current = variable.current?.value;
  const savedAll = current === ALL_VALUE || (Array.isArray(current) && current.includes(ALL_VALUE));
  if (variable.includeAll && savedAll) return { variable, values: options, all: true };
  return { variable, values: [options[0]!], all: false };
}

/** Every panel, rows' nested panels included. */
export function allPanels(panels: DashboardPanel[]): DashboardPanel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

export interface ResolvedVariable {
  selection: VariableSelection;
  /** The query as sent to InfluxDB (custom/constant variables: none). */
  executed?: string;
}

/**
 * Resolves a dashboard's variables in list order, as Grafana does on load: each query
 * variable's query is interpolated with the variables before it, sent to InfluxDB, its
 * options filtered and sorted, and the on-load value selected.
 */
export async function resolveVariables(
  dashboard: Dashboard,
  run: (query: string) => Promise<InfluxResult>,
  macros: MacroContext,
): Promise<Map<string, ResolvedVariable>> {
  const resolved = new Map<string, ResolvedVariable>();
  const selections = new Map<string, VariableSelection>();
  for (const variable of dashboard.templating?.list ?? []) {
    let options: string[];
    let executed: string | undefined;
    if (variable.type === 'query') {
      executed = expandMacros(interpolateVariables(variableQueryText(variable), selections, 'variable'), macros);
      const left = referencedNames(executed);
      if (left.length > 0) throw new Error(`variable $${variable.name}: unresolved ${left.map((n) => `$${n}`).join(', ')} in ${executed}`);
      const result = await run(executed);
      if (result.error !== undefined) throw new Error(`variable $${variable.name}: ${executed} failed: ${result.error}`);
      options = sortVariableValues(applyVariableRegex(metricFindValues(result), variable.regex), variable.sort);
    } else if (variable.type === 'custom') {
      options = variableQueryText(variable).split(',').map((s) => s.split(' : ').at(-1)!.trim()).filter(Boolean);
    } else if (variable.type === 'constant' || variable.type === 'textbox') {
      options = [variableQueryText(variable)];
    } else {
      throw new Error(`variable $${variable.name}: type ${variable.type} is not supported by this helper`);
    }
    const selection = selectOnLoad(variable, options);
    selections.set(variable.name, selection);
    resolved.set(variable.name, { selection, ...(executed !== undefined ? { executed } : {}) });
  }
  return resolved;
}

/** A panel target's query as Grafana sends it to InfluxDB, given the resolved variables. */
export function panelQuery(target: PanelTarget, variables: ReadonlyMap<string, ResolvedVariable>, macros: MacroContext): string {
  const selections = new Map([...variables].map(([name, v]) => [name, v.selection]));
  return expandMacros(interpolateVariables(target.query ?? '', selections), macros);
}
