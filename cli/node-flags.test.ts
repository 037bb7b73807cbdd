import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from './node-flags.js';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('SERVER_NODE_FLAGS', () => {
  it('are the flags of the sluice command’s shebang and of the image’s entrypoint', () => {
    expect(read('./main.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`);
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(read('../deploy/Dockerfile'))?.[1];
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/cli/main.js']);
  });

  it('are flags this node takes (an unknown one makes node exit 9 before running anything)', () => {
    const run = spawnSync(process.execPath, [...SERVER_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([...SERVER_NODE_FLAGS, '-e', expect.any(String)]);
  });
});
