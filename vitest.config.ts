import { defineConfig } from 'vitest/config';

/**
 * Two projects: `core` holds the pure domain tests (no Java, no emulators: `npx vitest run
 * --project core` or `npx vitest run test/core` runs in seconds on any machine with Node);
 * `stack` starts DynamoDB Local and fauxqs once per run for everything else.
 */
const shared = { pool: 'forks', testTimeout: 60_000, hookTimeout: 120_000 } as const;

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { ...shared, name: 'core', include: ['test/core/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'stack',
          include: ['test/**/*.test.ts'],
          exclude: ['test/core/**'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
