// npm run bench: every benchmark, each printing ratios against a reference run on this machine.
import { benchServing } from './serve-vs-nginx.ts';
import { ensureTools } from './tools.ts';
import { benchUpdateChecks } from './update-checks.ts';
import { benchCoverage } from './coverage.ts';
import { benchImport, benchUdpDiode } from './udp-diode.ts';
import { benchSoak } from './soak.ts';
import { benchFetch } from './fetch.ts';
import { benchInventory } from './inventory.ts';
import { benchExposure } from './exposure.ts';
import { benchStartup } from './startup.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const largeMiB = Number(process.env.BENCH_LARGE_MIB ?? 256);
// Every reference run is interleaved with ours this many times; each figure is printed as min / median / max.
const runs = Number(process.env.BENCH_RUNS ?? 3);
ensureTools();
const only = process.env.BENCH_ONLY;
if (!only || only === 'startup') await benchStartup({ runs: Math.max(runs, 5) });
if (!only || only === 'serving') await benchServing({ largeMiB, seconds, runs });
if (!only || only === 'update-checks') await benchUpdateChecks({ seconds, connections: 1000, runs, agents: Number(process.env.BENCH_AGENTS ?? 1000), generatorThreads: Number(process.env.BENCH_GENERATOR_THREADS ?? 2) });
if (!only || only === 'coverage') await benchCoverage();
if (!only || only === 'udp') await benchUdpDiode({ fileMiB: Number(process.env.BENCH_UDP_MIB ?? 256) });
if (!only || only === 'import') await benchImport({ fileMiB: Number(process.env.BENCH_IMPORT_MIB ?? 256) });
if (!only || only === 'inventory') await benchInventory((process.env.BENCH_INVENTORY_SIZES ?? '1000,10000,30000,100000').split(',').map(Number));
if (!only || only === 'exposure') await benchExposure((process.env.BENCH_EXPOSURE_SIZES ?? '1000,10000,100000').split(',').map(Number));
if (!only || only === 'fetch') await benchFetch({ fileMiB: largeMiB });
if (!only || only === 'soak') await benchSoak({ seconds: Number(process.env.SOAK_SECONDS ?? 600), sampleSeconds: Number(process.env.SOAK_SAMPLE_SECONDS ?? 5), rounds: Number(process.env.SOAK_ROUNDS ?? 4) });
