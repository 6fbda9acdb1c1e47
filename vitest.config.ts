import { defineConfig } from "vitest/config";

// Two projects, gated by file suffix: `*.test.ts` are unit tests (pure logic, fakes allowed),
// `*.int.test.ts` are integration tests against real NATS, Redis, kube-apiserver and xDS clients.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{libs,services,cli}/*/src/**/*.test.ts", "cli/src/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**", "**/dist/**"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["{libs,services}/*/src/**/*.int.test.ts", "cli/src/**/*.int.test.ts", "test/integration/src/**/*.int.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
