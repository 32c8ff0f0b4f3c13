/**
 * A short fixed-seed chaos campaign (chaos/campaign.ts `runSchedules`) over every
 * configuration: one short schedule each — two worker processes × two caches under random
 * operations, at least one fault the nemesis draws from the topology's kinds (pauses, kills,
 * failovers, CLIENT KILLs of real servers), a quiet tail under load after it healed, the
 * quiescent read — on one topology per kind (standalone, Sentinel, cluster) shared by its
 * configurations. The checker must find no violation of docs/guarantees.md. It judges rules,
 * not timings; longer campaigns are `npm run chaos`'s job (docs/chaos.md).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type CampaignResult, runSchedules } from '../../chaos/campaign.js';
import { ALL_CONFIGS, type ChaosConfig } from '../../chaos/generator.js';
import { scheduleReplayCommand, summaryLine, violationLines } from '../../chaos/report.js';

/** The run's seed: each configuration's schedule gets its own seed from it (`scheduleSeed`). */
const SEED = 86;
/** Planned load per schedule; the first fault comes 1-3 s in (one that does not fit is planned anyway). */
const LOAD_MS = 3000;
/** The load goes on 6 s after the last fault healed: ≥ 1 s of reads outside its 5 s window. */
const TAIL_MS = 6000;

const ofKind = (router: (c: ChaosConfig) => boolean): ChaosConfig[] => ALL_CONFIGS.filter(router);
const STANDALONE = ofKind((c) => c.router === 'standalone');
const SENTINEL = ofKind((c) => c.router === 'pooled' || c.router === 'discovery');
const CLUSTER = ofKind((c) => c.router === 'cluster');

const run = (configs: ChaosConfig[]): Promise<CampaignResult[]> =>
  runSchedules({ configs, seed: SEED, schedules: 1, loadMs: LOAD_MS, tailMs: TAIL_MS });

const results = new Map<string, CampaignResult>();

describe('chaos campaign (fixed seed, every configuration)', () => {
  beforeAll(async () => {
    // Two lanes: the 8 Sentinel configurations on one topology; standalone, then cluster, on
    // the other. Each lane runs its schedules one after the other.
    const lanes = await Promise.all([
      run(SENTINEL),
      run(STANDALONE).then(async (s) => [...s, ...(await run(CLUSTER))]),
    ]);
    for (const r of lanes.flat()) results.set(r.config, r);
    // What each configuration's schedule did (seed, faults, how much was judged), for the log.
    for (const r of results.values()) {
      const s = r.schedules?.[0];
      console.log(`${summaryLine(r)} | seed ${s?.seed} | ${s?.faults.map((f) => f.kind).join(', ')}`);
    }
  }, 400_000);

  for (const config of ALL_CONFIGS) {
    it(`${config.name}: no violation of a documented guarantee`, () => {
      const result = results.get(config.name);
      expect(result, 'no result').toBeDefined();
      const r = result!;
      const schedule = r.schedules?.[0];
      const explain = [
        summaryLine(r),
        ...violationLines(r, 10),
        `replay: ${scheduleReplayCommand(r, schedule?.seed ?? '?')}`,
      ].join('\n');
      expect(r.harnessError, explain).toBeUndefined();
      expect(r.schedules?.length, explain).toBe(1);
      expect(r.report.violations.length, explain).toBe(0);
      // Not a vacuous verdict: the rules had something to judge, some of it strictly (outside
      // every fault's window), and a fault really happened.
      expect(r.report.checked.reads, explain).toBeGreaterThan(100);
      expect(r.readsOutsideFaultWindows, explain).toBeGreaterThan(0);
      expect(r.report.checked.finalReads, explain).toBeGreaterThan(0);
      expect(r.report.checked.taggedAnswers + r.report.checked.lockHolds, explain).toBeGreaterThan(0);
      expect(
        schedule?.faults.some((f) => !f.note?.startsWith('not injected')),
        explain,
      ).toBe(true);
    });
  }
});
