import { describe, expect, it } from 'vitest';
import { IdentityDevices } from './identity-devices.js';

describe('IdentityDevices', () => {
  it('admits devices up to the limit per identity, then only those already seen', () => {
    const devices = new IdentityDevices(2);
    expect(devices.admit('bridge', 'a')).toBe(true);
    expect(devices.admit('bridge', 'b')).toBe(true);
    expect(devices.admit('bridge', 'c')).toBe(false);
    expect(devices.admit('bridge', 'a')).toBe(true);
    expect(devices.admit('bridge', 'c')).toBe(false);
    expect(devices.countOf('bridge')).toBe(2);
  });

  it('keeps each identity to its own allowance', () => {
    const devices = new IdentityDevices(1);
    expect(devices.admit('edge1', 'x')).toBe(true);
    expect(devices.admit('edge1', 'y')).toBe(false);
    expect(devices.admit('edge2', 'y')).toBe(true);
    expect(devices.admit('edge2', 'x')).toBe(false);
  });
});
