import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // Soak tests run alone afterwards (vitest.soak.config.ts, npm run test:soak).
    exclude: ['node_modules/**', 'dist/**', '**/*.soak.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers; two cores do not take more in parallel.
    maxWorkers: 2,
  },
});
