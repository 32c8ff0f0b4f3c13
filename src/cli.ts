#!/usr/bin/env node
/**
 * `sentinel-cache` command line: start/inspect/stop a Redis Sentinel topology, and run the
 * benchmark suite.
 */
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { addressKey } from './core/address.js';
import { startCluster } from './topology/cluster.js';
import { collectClusterStatus, describeCluster, formatClusterStatus } from './topology/cluster-status.js';
import { DEFAULT_STATE_FILE, downFromState, livePids, readState, writeState } from './topology/detached.js';
import {
  failoverShard,
  killShardMaster,
  pauseShardMaster,
  waitForShardMaster,
} from './topology/detached-cluster-control.js';
import {
  failover,
  killMaster,
  pauseMaster,
  resumeAll,
  stateCredentials,
  waitForNewMaster,
} from './topology/detached-control.js';
import { parseSentinelList, startTopology } from './topology/index.js';
import { resolveOptions } from './topology/options.js';
import { ProcessTopology, startProcessTopology } from './topology/process-topology.js';
import { redisServerVersion } from './topology/redis-binary.js';
import { chooseProvider } from './topology/select-provider.js';
import { describeTopology } from './topology/snippet.js';
import { collectStatus, formatStatus } from './topology/status.js';
import type { TopologyOptions } from './topology/types.js';

function positiveInt(min: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

interface UpOptions {
  replicas: number;
  sentinels: number;
  provider: NonNullable<TopologyOptions['provider']>;
  service: string;
  downAfter: number;
  failoverTimeout: number;
  tls?: boolean;
  detach?: boolean;
  stateFile: string;
  basePort?: number;
  verbose?: boolean;
  cluster?: boolean;
  shards: number;
  replicasPerShard: number;
  nodeTimeout: number;
}

/** A command acting on the topology of `stateFile`: `--state-file` only when it is not the default. */
function topologyCommand(command: string, stateFile: string): string {
  return `sentinel-cache topology ${command}${stateFile === DEFAULT_STATE_FILE ? '' : ` --state-file ${stateFile}`}`;
}

/** One detached topology per state file: a second `up --detach` would orphan the first. */
function refuseSecondDetached(stateFile: string): void {
  if (existsSync(stateFile) && livePids(readState(stateFile)).length > 0) {
    throw new Error(
      `a detached topology is already running (${stateFile}); run \`${topologyCommand('down', stateFile)}\` first`,
    );
  }
}

/** A foreground `topology up`: keep the topology until Ctrl-C / SIGTERM, then stop it. */
async function runUntilInterrupted(topology: { stop(): Promise<void> }): Promise<void> {
  console.log('\nPress Ctrl-C to stop it.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  console.log('\nstopping...');
  await topology.stop();
  console.log('stopped; nothing left behind');
}

/** `topology up --cluster`: a local Redis Cluster (process provider only). */
async function clusterUp(o: UpOptions): Promise<void> {
  if (o.provider !== 'auto' && o.provider !== 'process') {
    throw new Error('--cluster needs the process provider (redis-server and redis-cli on PATH)');
  }
  if (o.detach) refuseSecondDetached(o.stateFile);
  const password = process.env.SENTINEL_CACHE_PASSWORD;
  const topology = await startCluster({
    shards: o.shards,
    replicasPerShard: o.replicasPerShard,
    nodeTimeoutMs: o.nodeTimeout,
    tls: o.tls ?? false,
    detached: o.detach ?? false,
    ...(password ? { auth: { password } } : {}),
    ...(o.verbose ? { log: (line: string) => console.error(`[topology] ${line}`) } : {}),
  });
  console.log(describeCluster(topology, topology.state().tls?.caFile));
  if (o.detach) {
    writeState(o.stateFile, topology.state());
    console.log(
      `\nRunning in the background; state in ${o.stateFile}. Stop it with: ${topologyCommand('down', o.stateFile)}`,
    );
    return;
  }
  await runUntilInterrupted(topology);
}

async function topologyUp(o: UpOptions): Promise<void> {
  if (o.cluster) return clusterUp(o);
  const options: TopologyOptions = {
    provider: o.provider,
    replicas: o.replicas,
    sentinels: o.sentinels,
    service: o.service,
    downAfterMs: o.downAfter,
    failoverTimeoutMs: o.failoverTimeout,
    tls: o.tls ?? false,
    ...(o.basePort !== undefined ? { basePort: o.basePort } : {}),
    ...(process.env.SENTINEL_CACHE_PASSWORD
      ? { auth: { password: process.env.SENTINEL_CACHE_PASSWORD } }
      : {}),
    ...(o.verbose ? { log: (line: string) => console.error(`[topology] ${line}`) } : {}),
  };

  if (o.detach) {
    refuseSecondDetached(o.stateFile);
    const choice = await chooseProvider({
      ...options,
      provider: o.provider === 'auto' ? 'process' : o.provider,
    });
    if (choice.provider !== 'process') {
      throw new Error('--detach needs the process provider (redis-server on PATH)');
    }
    const topology = await startProcessTopology({
      ...resolveOptions(options),
      redisServerPath: choice.redisServerPath,
      redisVersion: redisServerVersion(choice.redisServerPath),
      detached: true,
    });
    const state = topology.state();
    writeState(o.stateFile, state);
    console.log(describeTopology(topology, state.tls?.caFile));
    console.log(
      `\nRunning in the background; state in ${o.stateFile}. Stop it with: ${topologyCommand('down', o.stateFile)}`,
    );
    return;
  }

  const topology = await startTopology(options);
  const caFile = topology instanceof ProcessTopology ? topology.state().tls?.caFile : undefined;
  console.log(describeTopology(topology, caFile));
  await runUntilInterrupted(topology);
}

interface FaultOptions {
  stateFile: string;
  wait?: boolean;
  timeout: number;
}

const FAULTS = {
  failover: { run: failover, did: 'SENTINEL FAILOVER accepted; master was' },
  pause: { run: pauseMaster, did: 'paused (SIGSTOP) the master' },
  kill: { run: killMaster, did: 'killed (SIGKILL) the master' },
} as const;

const CLUSTER_FAULTS = {
  failover: { run: failoverShard, did: 'CLUSTER FAILOVER accepted; master was' },
  pause: { run: pauseShardMaster, did: 'paused (SIGSTOP) the master' },
  kill: { run: killShardMaster, did: 'killed (SIGKILL) the master' },
} as const;

function slotRanges(slots: [number, number][]): string {
  return slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
}

async function topologyFault(
  kind: keyof typeof FAULTS,
  shardArg: string | undefined,
  o: FaultOptions,
): Promise<void> {
  const state = readState(o.stateFile);
  const started = Date.now();
  if (state.cluster) {
    if (shardArg === undefined) {
      throw new Error(
        `a cluster: name the shard, e.g. \`sentinel-cache topology ${kind} 0\` (0 to ${state.cluster.shards - 1})`,
      );
    }
    const shard = Number(shardArg);
    const { master, slots } = await CLUSTER_FAULTS[kind].run(state, shard);
    console.log(
      `${CLUSTER_FAULTS[kind].did} ${addressKey(master)} of shard ${shard} (slots ${slotRanges(slots)})`,
    );
    if (o.wait) {
      const next = await waitForShardMaster(state, shard, master, o.timeout);
      console.log(
        `new master of shard ${shard}: ${addressKey(next)} after ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } else if (kind === 'pause') {
      console.log(`resume it with: ${topologyCommand('resume', o.stateFile)}`);
    }
    return;
  }
  if (shardArg !== undefined) {
    throw new Error(`a shard (${shardArg}) is for a cluster; this topology is Sentinel (${state.service})`);
  }
  const { master } = await FAULTS[kind].run(state);
  console.log(`${FAULTS[kind].did} ${addressKey(master)} (service ${state.service})`);
  if (o.wait) {
    const next = await waitForNewMaster(state, master, o.timeout);
    console.log(`new master ${addressKey(next)} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else if (kind === 'pause') {
    console.log(`resume it with: ${topologyCommand('resume', o.stateFile)}`);
  }
}

async function topologyResume(o: { stateFile: string }): Promise<void> {
  const resumed = resumeAll(readState(o.stateFile));
  console.log(`resumed (SIGCONT) ${resumed.length} data nodes: ${resumed.join(', ')}`);
}

async function topologyDown(o: { stateFile: string }): Promise<void> {
  const { stopped, dir } = await downFromState(o.stateFile);
  console.log(`stopped ${stopped} redis-server processes, removed ${dir} and ${o.stateFile}`);
}

async function topologyStatus(o: { stateFile: string; sentinels?: string; service?: string }): Promise<void> {
  const envSentinels = process.env.SENTINEL_CACHE_SENTINELS;
  if (o.sentinels || (!existsSync(o.stateFile) && envSentinels)) {
    const sentinels = parseSentinelList(o.sentinels ?? envSentinels ?? '');
    const service = o.service ?? process.env.SENTINEL_CACHE_SERVICE ?? 'mymaster';
    const password = process.env.SENTINEL_CACHE_PASSWORD;
    const sentinelPassword = process.env.SENTINEL_CACHE_SENTINEL_PASSWORD;
    const status = await collectStatus({
      service,
      sentinels,
      dataCreds: { password },
      sentinelCreds: { password: sentinelPassword },
    });
    console.log(formatStatus(status));
    return;
  }
  const state = readState(o.stateFile);
  if (state.cluster) {
    console.log(formatClusterStatus(await collectClusterStatus(state.nodes, stateCredentials(state).data)));
    return;
  }
  const { data, sentinel } = stateCredentials(state);
  const status = await collectStatus({
    service: state.service,
    sentinels: state.sentinels,
    nodes: state.nodes,
    dataCreds: data,
    sentinelCreds: sentinel,
  });
  console.log(formatStatus(status));
}

/**
 * The benchmark suite lives in the repository, not in the published package (it needs charting
 * and histogram libraries a cache client should not install). It is loaded at run time: from a
 * clone (`npm run bench`) it is there; in an installed package the import fails and we say why.
 */
async function runBench(argv: string[]): Promise<void> {
  const modulePath = '../bench/run.js';
  let bench: { runBenchCli: (argv: string[]) => Promise<void> };
  try {
    bench = (await import(modulePath)) as typeof bench;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes('bench');
    if (!missing) throw error;
    throw new Error(
      'the benchmark suite is not part of the installed package; run it from a clone of the ' +
        'repository: npm install && npm run bench',
    );
  }
  await bench.runBenchCli(argv);
}

export function buildProgram(): Command {
  const program = new Command('sentinel-cache')
    .description('Redis cache client for Sentinel deployments: topology tools and benchmarks')
    .showHelpAfterError()
    .enablePositionalOptions();

  const topology = program
    .command('topology')
    .description(
      'start, inspect and stop a Redis Sentinel topology (master, replicas, sentinels) or a Redis Cluster',
    );

  topology
    .command('up')
    .description('start a topology, print its addresses and a createCache config; runs until Ctrl-C')
    .option('--replicas <n>', 'number of replicas', positiveInt(0), 2)
    .option('--sentinels <n>', 'number of sentinels', positiveInt(1), 3)
    .addOption(
      new Option('--provider <provider>', 'where the servers run')
        .choices(['auto', 'process', 'testcontainers', 'external'])
        .default('auto'),
    )
    .option('--service <name>', 'sentinel service (master) name', 'mymaster')
    .option('--down-after <ms>', 'sentinel down-after-milliseconds', positiveInt(1), 1000)
    .option('--failover-timeout <ms>', 'sentinel failover-timeout', positiveInt(1), 5000)
    .option('--tls', 'TLS-only nodes and sentinels with a generated CA')
    .option('--cluster', 'a Redis Cluster instead of Sentinel (process provider)')
    .option('--shards <n>', 'with --cluster: number of masters (>= 3)', positiveInt(3), 3)
    .option('--replicas-per-shard <n>', 'with --cluster: replicas of each master', positiveInt(0), 1)
    .option('--node-timeout <ms>', 'with --cluster: cluster-node-timeout', positiveInt(100), 1000)
    .option(
      '--detach',
      'leave the servers running in the background and write a state file (process provider)',
    )
    .option('--state-file <path>', 'state file for --detach', DEFAULT_STATE_FILE)
    .option(
      '--base-port <port>',
      'process provider: consecutive ports from here (master, replicas, then sentinels) instead of random free ones',
      positiveInt(1),
    )
    .option('-v, --verbose', 'log each step to stderr')
    .addHelpText(
      'after',
      "\nSENTINEL_CACHE_PASSWORD, if set, becomes the data nodes' requirepass.\n" +
        'Example: sentinel-cache topology up --detach && sentinel-cache topology status\n' +
        'Redis Cluster: sentinel-cache topology up --cluster --shards 3 --replicas-per-shard 1',
    )
    .action((o: UpOptions) => topologyUp(o));

  topology
    .command('down')
    .description('stop a topology started with `topology up --detach` and remove its files')
    .option('--state-file <path>', 'state file written by up --detach', DEFAULT_STATE_FILE)
    .action((o: { stateFile: string }) => topologyDown(o));

  topology
    .command('status')
    .description(
      "show each node's role, replication offset and link, and what every sentinel sees (cluster: roles, slots, links)",
    )
    .option('--state-file <path>', 'state file written by up --detach', DEFAULT_STATE_FILE)
    .option(
      '--sentinels <list>',
      'host:port,... of sentinels to ask instead (default: SENTINEL_CACHE_SENTINELS)',
    )
    .option('--service <name>', 'service name with --sentinels (default: SENTINEL_CACHE_SERVICE or mymaster)')
    .action((o: { stateFile: string; sentinels?: string; service?: string }) => topologyStatus(o));

  const stateFileOption = () =>
    new Option('--state-file <path>', 'state file written by up --detach').default(DEFAULT_STATE_FILE);
  const timeoutOption = () =>
    new Option('--timeout <ms>', 'how long --wait waits for the new master')
      .argParser(positiveInt(1))
      .default(30_000);

  topology
    .command('failover')
    .description(
      'SENTINEL FAILOVER (a cluster: CLUSTER FAILOVER on a replica of the shard): promote a replica now, and wait for the new master (detached topology)',
    )
    .addOption(stateFileOption())
    .option('--no-wait', 'return once a sentinel accepted the failover')
    .addOption(timeoutOption())
    .argument('[shard]', 'a cluster: the shard whose master to act on (0, 1, ...)')
    .action((shard: string | undefined, o: FaultOptions) => topologyFault('failover', shard, o));

  topology
    .command('pause')
    .description(
      'SIGSTOP the master (a cluster: of the shard; like `docker pause`): a failover follows after --down-after / --node-timeout ms',
    )
    .addOption(stateFileOption())
    .option('--wait', 'wait until the sentinels name a new master')
    .addOption(timeoutOption())
    .argument('[shard]', 'a cluster: the shard whose master to act on (0, 1, ...)')
    .action((shard: string | undefined, o: FaultOptions) => topologyFault('pause', shard, o));

  topology
    .command('resume')
    .description('SIGCONT every data node: a paused old master comes back (as a replica after a failover)')
    .addOption(stateFileOption())
    .action((o: { stateFile: string }) => topologyResume(o));

  topology
    .command('kill')
    .description(
      'SIGKILL the master (a cluster: of the shard; it does not come back; `topology down` still cleans up)',
    )
    .addOption(stateFileOption())
    .option('--wait', 'wait until the sentinels name a new master')
    .addOption(timeoutOption())
    .argument('[shard]', 'a cluster: the shard whose master to act on (0, 1, ...)')
    .action((shard: string | undefined, o: FaultOptions) => topologyFault('kill', shard, o));

  program
    .command('bench')
    .description('run the benchmark suite (`sentinel-cache bench --help` lists its options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'arguments for the benchmark runner')
    .action((args: string[]) => runBench(args));

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    console.error(`sentinel-cache: ${(error as Error).message}`);
    process.exitCode = 1;
  });
