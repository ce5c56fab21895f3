import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests (no I/O), and integration/end-to-end tests against the local AWS
// emulator, which tests/support/global-setup.ts finds at AWS_ENDPOINT_URL or starts natively.
const testEnv = {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  // Testcontainers' reaper (Ryuk) is an image from a registry; containers are removed by the tests.
  TESTCONTAINERS_RYUK_DISABLED: 'true',
};

export default defineConfig({
  test: {
    env: testEnv,
    projects: [
      {
        test: {
          name: 'unit',
          // Pure tests share one module registry: each file importing the packages afresh took
          // half of the project's time (30 s against 15 s).
          isolate: false,
          include: ['packages/*/test/**/*.unit.test.ts', 'services/*/test/**/*.unit.test.ts', 'deploy/test/**/*.unit.test.ts', 'tests/iam/**/*.unit.test.ts', 'tests/supply-chain/**/*.unit.test.ts', 'load-tests/test/**/*.unit.test.ts'],
          benchmark: { include: ['packages/*/bench/**/*.bench.ts', 'services/*/bench/**/*.bench.ts'] },
          env: testEnv,
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'packages/*/test/**/*.int.test.ts',
            'services/*/test/**/*.int.test.ts',
            'deploy/test/**/*.int.test.ts',
            'load-tests/test/**/*.int.test.ts',
            'tests/e2e/**/*.test.ts',
          ],
          env: testEnv,
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
