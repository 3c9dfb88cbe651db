import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { BenchArea, BenchOptions } from './harness.js';

/**
 * `npm run bench [-- AREA… [--quick] [--seed=N]]`: runs the named bench areas (all when none is
 * named) one after the other and exits non-zero when one fails its correctness check or, in a
 * full run, a target. Each area lives in its own `bench/<area>-bench.ts` and is loaded only when
 * it runs, so an area's dependencies (WASM engines, servers) cost nothing to the others.
 */
const require = createRequire(import.meta.url);

const AREAS: Record<string, () => Promise<BenchArea>> = {
  policy: async () => (await import('./policy-bench.js')).policyBench,
  http: async () => (await import('./http-bench.js')).httpBench,
  store: async () => (await import('./store-bench.js')).storeBench,
  gateway: async () => (await import('./gateway-bench.js')).gatewayBench,
  s3: async () => (await import('./s3-bench.js')).s3Bench,
  provisioning: async () => (await import('./provisioning-bench.js')).provisioningBench,
};

const USAGE = `usage: npm run bench -- [AREA…] [--quick] [--seed=N]
  AREA     one of: ${Object.keys(AREAS).join(', ')} (default: all)
  --quick  a smoke run of a few seconds; targets are shown but do not fail the run
  --seed=N seed of the generated workloads (default 1)`;

function parseArgs(argv: readonly string[]): { areas: string[]; options: BenchOptions } | string {
  const areas: string[] = [];
  let quick = false;
  let seed = 1;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg.startsWith('--seed=')) {
      seed = Number(arg.slice('--seed='.length));
      if (!Number.isSafeInteger(seed)) return `--seed takes an integer, not "${arg.slice(7)}"`;
    } else if (arg === '--help' || arg === '-h') return '';
    else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else if (!(arg in AREAS)) return `unknown bench area "${arg}"`;
    else areas.push(arg);
  }
  return { areas: areas.length ? areas : Object.keys(AREAS), options: { quick, seed } };
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (!parsed) {
      console.log(USAGE);
      return 0;
    }
    console.error(`${parsed}\n${USAGE}`);
    return 2;
  }
  // Server children run the compiled packages, as `aiam serve` does: build them first.
  const build = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b'], {
    stdio: 'inherit',
  });
  if (build.status !== 0) {
    console.error('the build (tsc -b) failed; the benches run the compiled server');
    return 1;
  }
  console.log(`node ${process.version}, ${availableParallelism()} CPUs, ${process.platform}/${process.arch}`);
  let ok = true;
  for (const name of parsed.areas) {
    const area = await AREAS[name]!();
    const t0 = Date.now();
    console.log(`\n== ${area.name}: ${area.description}`);
    const outcome = await area.run(parsed.options);
    console.log(
      `== ${area.name}: ${outcome.ok ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    ok &&= outcome.ok;
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
