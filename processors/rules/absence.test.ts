import { describe, expect, it } from 'vitest';
import { evaluator, states } from './testing/fixtures.js';

const SILENT = `
  - name: silent
    severity: warning
    absence: { for: 2m }
`;

describe('absence', () => {
  it('fires when now − lastSeen ≥ for, dated lastSeen + for whenever it is noticed; resolves at the next reading', () => {
    const { ev, out } = evaluator(SILENT);
    ev.onReadings('d1', 'site=a', '', 'temp', 10_000);
    ev.onReadings('d1', 'site=a', '', 'door', 50_000);
    ev.advance(169_999);
    expect(out).toEqual([]);
    ev.advance(400_000); // noticed late
    expect(states(out)).toEqual(['silent:d1 firing@170000']);
    expect(out[0]).toMatchObject({ value: 120, threshold: 120, deviceTags: 'site=a', readingTags: '' });
    ev.advance(500_000);
    expect(out).toHaveLength(1);
    ev.onReadings('d1', 'site=a', '', 'temp', 450_000);
    expect(states(out)).toEqual(['silent:d1 firing@170000', 'silent:d1 resolved@450000']);
    expect(out[1]!.value).toBe(400); // seconds of silence
    ev.advance(569_999);
    ev.advance(570_000);
    expect(states(out).slice(2)).toEqual(['silent:d1 firing@570000']);
  });

  it('does not fire for a device that spoke before the deadline, however late advance() is called', () => {
    const { ev, out } = evaluator(SILENT);
    ev.onReadings('d1', '', '', 'temp', 0);
    ev.onReadings('d1', '', '', 'temp', 100_000);
    ev.advance(120_000); // the entry armed at 120 s is re-armed at 220 s
    ev.onReadings('d1', '', '', 'temp', 200_000);
    ev.advance(319_999);
    expect(out).toEqual([]);
    ev.advance(320_000);
    expect(states(out)).toEqual(['silent:d1 firing@320000']);
  });

  it('never dates a resolve before its firing (a backlog from inside the silence)', () => {
    const { ev, out } = evaluator(SILENT);
    ev.onReadings('d1', '', '', 'temp', 0);
    ev.advance(200_000);
    ev.onReadings('d1', '', '', 'temp', 60_000);
    expect(states(out)).toEqual(['silent:d1 firing@120000', 'silent:d1 resolved@120000']);
    expect(out[0]!.id).not.toBe(out[1]!.id);
  });

  it('watches only its metric and reading tags when given, and orders simultaneous firings by device', () => {
    const { ev, out } = evaluator(`
  - name: no-temp
    severity: info
    devices: { readingTags: { zone: top } }
    absence: { metric: temp, for: 30s }
`);
    for (const d of ['d3', 'd1', 'd2']) ev.onReadings(d, '', 'zone=top', 'temp', 1000);
    ev.onReadings('d1', '', 'zone=top', 'humidity', 20_000); // another metric: still silent
    ev.onReadings('d2', '', 'zone=bottom', 'temp', 20_000); // other tags: still silent
    ev.onReadings('d3', '', 'zone=top', 'temp', 20_000);
    ev.advance(60_000);
    expect(states(out)).toEqual(['no-temp:d1 firing@31000', 'no-temp:d2 firing@31000', 'no-temp:d3 firing@50000']);
  });

  it('cannot fire for a device never heard from, and ignores non-finite times', () => {
    const { ev, out } = evaluator(SILENT);
    ev.onReadings('d1', '', '', 'temp', NaN);
    ev.advance(1e12);
    expect(out).toEqual([]);
    expect(ev.stateSize.cells).toBe(0);
  });
});
