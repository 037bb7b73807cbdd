import { describe, expect, it } from 'vitest';
import { Serial } from './serial.js';

describe('Serial', () => {
  it('runs jobs one at a time in call order, across their awaits', async () => {
    const serial = new Serial();
    const steps: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = serial.run(async () => {
      steps.push('first begins');
      await gate;
      steps.push('first ends');
    });
    const second = serial.run(() => steps.push('second'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(steps).toEqual(['first begins']);
    release();
    await Promise.all([first, second]);
    expect(steps).toEqual(['first begins', 'first ends', 'second']);
  });

  it('gives a failed job\'s error to its caller and runs the next one', async () => {
    const serial = new Serial();
    const failed = serial.run(() => Promise.reject(new Error('boom')));
    const next = serial.run(() => 42);
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe(42);
  });
});
