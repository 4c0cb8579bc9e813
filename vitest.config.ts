import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take the longest, slowest first. Vitest orders files by the durations it cached on an earlier
 * run, and without a cache (every CI run starts from a fresh clone and `npm ci`) by size, largest first:
 * the crash matrices are a few lines each and would start last, leaving one worker busy for a minute
 * after the other has finished. Starting the long files first lets the short ones fill the gaps.
 */
const SLOWEST_FIRST = [
  'test/privacy/purge.test.ts',
  'test/fleet/budget.test.ts',
  'test/sync/crash-postgres.test.ts',
  'test/push/crash.test.ts',
  'test/fleet/queue.test.ts',
  'test/history/crash.test.ts',
  'test/sync/crash-bulk-load.test.ts',
  'test/privacy/canary.test.ts',
  'test/e2e/fleet-workers.test.ts',
  'test/sync/overlap.test.ts',
  'test/sync/sandbox.test.ts',
  'test/privacy/erase.test.ts',
  'test/sync/crash-sqlite.test.ts',
  'test/sync/crash-jsonl.test.ts',
  'test/webhooks/crash.test.ts',
  'test/cli/terminal.test.ts',
  'test/server/insights.test.ts',
  'test/webhooks/ordering.test.ts',
  'test/sync/stage-history.test.ts',
  'test/cli/serve.test.ts',
];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const i = SLOWEST_FIRST.findIndex((f) => spec.moduleId.endsWith(`/${f}`));
      return i === -1 ? SLOWEST_FIRST.length : i;
    };
    // A stable sort: the other files keep Vitest's order.
    return base
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map((x) => x.spec);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Crash and storage tests spawn processes and share one PostgreSQL; two workers fit the 2-core machines.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: 'forks',
    sequence: { sequencer: SlowestFirst },
  },
});
