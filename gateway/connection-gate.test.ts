import { describe, expect, it } from 'vitest';
import { ConnectionGate, REFUSING_AT_ONCE, socketBudget } from './connection-gate.js';

describe('ConnectionGate', () => {
  it('counts every socket against the total, spoken or not, until it is released', () => {
    const gate = new ConnectionGate(2, 10);
    const a = gate.admit('10.0.0.1');
    const b = gate.admit('10.0.0.2');
    expect(gate.admit('10.0.0.3')).toBe('max_connections');
    if (typeof a === 'string' || typeof b === 'string') throw new Error('admitted sockets expected');
    a.spoke();
    expect(gate.admit('10.0.0.3')).toBe('max_connections');
    a.release();
    a.release(); // idempotent: a second close must not free a second slot
    expect(typeof gate.admit('10.0.0.3')).toBe('object');
    expect(gate.admit('10.0.0.4')).toBe('max_connections');
  });

  it('caps pending sockets per address; a socket that spoke or closed frees its address slot', () => {
    const gate = new ConnectionGate(100, 2);
    const first = gate.admit('::ffff:10.0.0.1');
    const second = gate.admit('10.0.0.1');
    // The IPv4-mapped form is the same host.
    expect(gate.admit('10.0.0.1')).toBe('pending_per_address');
    expect(typeof gate.admit('10.0.0.2')).toBe('object');
    if (typeof first === 'string' || typeof second === 'string') throw new Error('admitted sockets expected');
    first.spoke();
    first.spoke();
    expect(gate.pendingFrom('10.0.0.1')).toBe(1);
    const third = gate.admit('10.0.0.1');
    expect(typeof third).toBe('object');
    second.release();
    expect(gate.pendingFrom('10.0.0.1')).toBe(1);
    first.release(); // spoke before: the pending count is not taken twice
    expect(gate.pendingFrom('10.0.0.1')).toBe(1);
    expect(gate.open).toBe(2);
  });

  it('leaves the reserved descriptors and the refusal slots out of the socket budget', async () => {
    const { budget, fdLimit, fdsOpen } = await socketBudget(100);
    if (fdLimit === Infinity) return; // no /proc here
    expect(budget).toBe(Math.max(0, fdLimit - fdsOpen - 100 - REFUSING_AT_ONCE));
  });
});
