import { defineConfig } from 'vitest/config';

// Soak tests compare latency with and without load, and the load benchmark's test fills both
// cores: they run alone, one at a time, after the other tests, so that no other test's
// servers share the two cores with them.
export default defineConfig({
  test: {
    include: ['test/**/*.soak.test.ts', 'test/bench-command.test.ts'],
    testTimeout: 400_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
  },
});
