import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Generous: several suites start real processes, and CI machines have two cores.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two cores: keep files in parallel but bounded, since many tests start real servers.
    maxWorkers: 4,
  },
});
