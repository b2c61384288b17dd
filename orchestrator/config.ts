/** Orchestrator settings: flags and environment, validated once, with their defaults here. */
import { BlockList, isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { MIB } from '../shared/bytes.ts';
import { type FarmLimits, settingName } from '../shared/farm-limits.ts';
import { toMicros } from '../shared/money.ts';
import { LIMITS } from '../shared/scene.ts';
import type { Economy } from './state/tasks.ts';

const int = (min: number) => z.coerce.number().int().min(min);
const share = () => z.coerce.number().min(0).max(1);
const credits = () => z.coerce.number().min(0).max(1e8);

/** Express's names for the private ranges, and an address with an optional prefix length. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const isProxyAddress = (entry: string): boolean => {
  if (PROXY_RANGES.has(entry)) return true;
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
};
/** 0.0.0.0 and ::, which name no proxy (a listener reads them as every address). */
const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0', 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');
/**
 * The IPv4 prefix length an IPv6 subnet holds through IPv4-mapped addresses (::ffff:a.b.c.d),
 * which Express matches against IPv4 clients: ::/16 holds all of IPv4. 32 when it holds none.
 */
const mappedIpv4Bits = (address: string, bits: number): number => {
  const subnet = new BlockList();
  subnet.addSubnet(address, Math.min(bits, 96), 'ipv6');
  return subnet.check('::ffff:0:0', 'ipv6') ? Math.max(bits - 96, 0) : 32;
};
/**
 * A subnet narrow enough that a client is unlikely to be inside it: at least /8 (IPv4) or /16
 * (IPv6). A client inside a trusted subnet is taken for a proxy, so its own X-Forwarded-For
 * names its address: 0.0.0.0/0 or ::/0 would be `true` by another name. Express's named
 * ranges are private addresses, which no client on the internet has.
 */
const isNarrowProxyRange = (entry: string): boolean => {
  if (PROXY_RANGES.has(entry)) return true;
  const [address, prefix] = entry.split('/');
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  if (UNSPECIFIED.check(address, family)) return false;
  const bits = prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix);
  return family === 'ipv4' ? bits >= 8 : bits >= 16 && mappedIpv4Bits(address, bits) >= 8;
};
/**
 * Express's `trust proxy`: false (none, the default), a count of proxies in front, or the
 * proxies' addresses. Never `true`, nor a subnet so broad it is `true` by another name:
 * trusting every hop lets any client name its own address.
 */
const trustedProxies = () =>
  z
    .string()
    .trim()
    .refine((v) => v === '' || /^\d+$/.test(v) || v.split(',').every((e) => isProxyAddress(e.trim())), {
      message:
        'the reverse proxies to believe: their addresses or subnets, comma-separated (or loopback, linklocal, uniquelocal), or how many stand in front; empty for none',
      abort: true,
    })
    .refine(
      (v) => /^\d*$/.test(v) || v.split(',').every((e) => isNarrowProxyRange(e.trim())),
      `${settingName('trustProxy')} may name no subnet broader than /8 (IPv4) or /16 (IPv6), nor 0.0.0.0 or ::: a client inside a trusted subnet names its own address in X-Forwarded-For, past the per-address limits; name the proxies' own addresses`,
    )
    .transform((v): false | number | string[] => (v === '' ? false : /^\d+$/.test(v) ? Number(v) : v.split(',').map((e) => e.trim())));
/** A farm's scene limit (shared/farm-limits.ts): the protocol's cap by default, never above it. */
const farmLimit = (key: keyof FarmLimits, min = 1) =>
  int(min)
    .max(
      LIMITS[key],
      `${settingName(key)} may not exceed the protocol's cap of ${LIMITS[key]}: every worker renders up to it, a farm may only lower it`,
    )
    .default(LIMITS[key]);

const settings = z.object({
  port: int(0).max(65535).default(8080),
  host: z.string().default('127.0.0.1'),
  /**
   * Reverse proxies whose X-Forwarded-For names the client, for the per-address rate limits:
   * their addresses or subnets, or how many stand in front. None by default: behind a proxy
   * every client would then share the proxy's address and its limits.
   */
  trustProxy: trustedProxies().default(false),
  redisUrl: z.string().url().default('redis://127.0.0.1:6379'),
  dataDir: z.string().default('.farm/data'),
  /**
   * Where scenes, results and frames live: `fs`, files under dataDir/blobs (orchestrators that
   * share the farm share the directory); `ipfs`, an embedded IPFS node per orchestrator under
   * dataDir/ipfs, copying blobs to the farm's other orchestrators (each keeps its own dataDir).
   */
  contentStore: z.enum(['fs', 'ipfs']).default('fs'),
  /** The IPFS node's libp2p listen address (other orchestrators must reach it). */
  ipfsListen: z.string().default('/ip4/127.0.0.1/tcp/0'),
  /** Orchestrators that hold each blob before a store returns (this one included, as many as are alive at most). */
  ipfsCopies: int(1).default(2),
  /** How long a fetch of a blob from peers, or a copy to them, may take. */
  ipfsTimeoutMs: int(100).default(10_000),
  /** Operator token; generated and printed when absent. */
  token: z.string().min(8).optional(),
  /**
   * A worker's lease on a replica; heartbeats renew it. A dead worker loses its replicas after this,
   * or a third more for one it never heart-beat (a replica's first lease: lease-terms.ts).
   */
  leaseMs: int(200).default(30_000),
  /** The most time a worker may spend on one replica before it is given to another. */
  taskTimeoutMs: int(500).default(10 * 60_000),
  /** How long a worker's poll for work waits before answering 204. */
  pollMs: int(10).default(20_000),
  /** A tile that no further eligible worker can help is decided with what it has after this. */
  graceMs: int(0).default(30_000),
  /** Largest scene upload (its manifest, when its heavy parts are assets). */
  maxSceneBytes: int(1024).default(32 * MIB),
  /** Largest asset upload, and largest total of one scene's assets (textures, sky, meshes). */
  maxAssetBytes: farmLimit('maxAssetBytes', 1024),
  /** The farm's scene limits, each at most the scene format's (shared/farm-limits.ts): triangles (instances expanded), … */
  maxTriangles: farmLimit('maxTriangles'),
  /** … the largest texture's side and all textures' texels, … */
  maxTextureSize: farmLimit('maxTextureSize'),
  maxTexels: farmLimit('maxTexels'),
  /** … frames per job, pixels per frame and samples per pixel. */
  maxFrames: farmLimit('maxFrames'),
  maxPixels: farmLimit('maxPixels'),
  maxSpp: farmLimit('maxSpp'),
  /** Largest result upload (a 512×512 tile is 1 MiB). */
  maxResultBytes: int(1024).default(2 * MIB),
  /** Free space the data directory keeps: below it, nothing new is stored (507) and /healthz is degraded. */
  minFreeBytes: int(0).default(512 * MIB),
  /** Share of Redis' maxmemory (when it has one) past which nothing new is stored. */
  maxRedisShare: share().default(0.95),

  // Retention.
  /** Ended jobs (done, failed, cancelled) are deleted with their tasks and blobs this long after they end; 0 keeps them. */
  retentionMs: int(0).default(30 * 24 * 3600_000),
  /** How often unreferenced blobs are collected and ledgers capped. */
  collectIntervalMs: int(100).default(3600_000),
  /** A blob written within this long is never collected: its record may not be written yet. */
  blobGraceMs: int(0).default(3600_000),
  /** Ledger entries each account keeps (newest first); balances never depend on them. */
  ledgerEntriesKept: int(1).default(10_000),

  // The market.
  /** One clearing of the market per interval, across every orchestrator on the Redis. */
  marketIntervalMs: int(100).default(10_000),
  /** Clearings kept for the price history. */
  marketHistoryMs: int(0).default(7 * 24 * 3600_000),
  /** Below this many RU traded in its hour, the price index is flagged thin. */
  marketIndexFloorRu: z.coerce.number().min(0).default(1),
  /**
   * A clearing names the last price that traded — what the farm pays its own work at (spot checks,
   * re-renders, audits) at most, and what a market order's collar is at least a band over — only when it traded at
   * least this many RU: a bid holding a few credits of escrow that crosses its owner's own ask
   * traded nothing, and had let its owner name what the treasury pays.
   */
  marketTradedFloorRu: z.coerce.number().min(0).default(1),
  /**
   * … and only when at least this many requesters bought in that hour (history.ts tradedPrice): one
   * requester trading with its own provider keys names nothing. A farm with a single requester sets 1.
   */
  marketTradedMinBuyers: int(1).default(2),
  /**
   * The most (credits per RU) the price that traded is taken as where the farm pays or caps with it
   * — its own work (spot checks, re-renders, audits), what a forward offer's collateral is valued
   * at — whatever the market named, and the most a market order's reference price is
   * (market/book.ts): the operator's bound on what a manipulated price can drain or inflate. None:
   * no bound.
   */
  marketTradedCeiling: z.coerce.number().min(0).max(1_000_000).optional(),
  /**
   * A market order (no limit) pays at most this multiple of its reference price, the higher of the
   * price that traded and the book's median ask (its collar, market/book.ts): one key asking a
   * fortune for a sliver of capacity cannot set what every market order pays.
   */
  marketOrderBand: z.coerce.number().min(1).max(1000).default(1.5),
  /** Reservations: capacity is sold forward in windows this long … */
  forwardWindowMs: int(1000).default(3600_000),
  /** … whose orders close (and the window clears) this long before it starts … */
  forwardGateMs: int(0).default(5 * 60_000),
  /** … opening this far ahead. */
  forwardHorizonMs: int(1000).default(24 * 3600_000),
  /** Share of the value it offers that a provider locks as collateral (what a shortfall costs it). */
  collateralShare: share().default(0.2),

  // The economy, in credits.
  /** The operator's share of what a job pays for each valid replica, to the treasury. */
  feeShare: share().default(0.02),
  /** Stake locked behind each replica an untrusted worker holds or awaits a verdict on. */
  stakePerReplica: credits().default(10),
  /** Least stake an untrusted worker must hold to take any work: what an identity costs. */
  minStake: credits().default(100),
  /** Share of a caught worker's whole stake a fault loses (to the honest co-replicators). */
  slashShare: share().default(1),
  /** Cost of a missed deadline (spot checks included), from stake then balance. */
  deadlinePenalty: credits().default(0.5),
  /** Stake asked back stays slashable this long before it is paid out. */
  unbondingMs: int(0).default(24 * 3600_000),
  /** Most replicas an untrusted worker may hold at once. */
  maxHeldReplicas: int(1).default(4),
  /**
   * Replicas an untrusted worker may hand back in an hour for nothing; past them each costs the
   * missed-deadline penalty. A hand-back is a look at whether the replica was real: a real slot
   * comes back to its queue for a sibling to be given, a spot check's tile never does. A graceful
   * drain hands back at most `maxHeldReplicas`. (A render error counts as one when its own class
   * renders the tile after all: settle.lua.)
   */
  freeHandBacksPerHour: int(0).default(16),
  /** Share of a job's tiles one untrusted worker may take, but never fewer than the floor. */
  jobShare: share().default(0.5),
  jobShareFloor: int(1).default(64),

  // Verification.
  /** Least fraction q of an untrusted worker's replicas that are spot checks (newcomers get more). */
  spotCheckRate: share().default(0.05),
  /**
   * Workers one known answer serves as a spot check before it leaves the pool: more stretches a
   * pool no trusted worker refills, fewer gives colluders fewer repeats to compare notes on.
   */
  spotCheckUses: int(1).default(64),
  /**
   * Known answers per class the farm stocks while a trusted worker is online: under it, verdicts
   * no trusted worker backs are audited by one (a few at a time), so the pool it leaves behind is
   * large and varied (0: only the audit roll). The pool holds at most 1,000.
   */
  knownAnswersTarget: int(0).max(1000).default(256),
  /**
   * Replicas of a tile that may fail (a render error) or be abandoned (a timeout) before the tile
   * fails its job, as BullMQ's `attempts`; only once one of the operator's workers reported the error.
   */
  renderAttempts: int(1).default(3),
  /** Assumed fraction of saboteurs f in the credibility model (Sarmenta's default). */
  saboteurFraction: z.coerce.number().gt(0).lt(1).default(0.2),
  /** A provisional class's pixels match when at most this many 8-bit levels apart … */
  toleranceLevels: int(0).max(255).default(2),
  /** … in at least this share of pixels. */
  toleranceShare: share().default(0.999),

  // Quotas per requester, and limits per client.
  /** Most tasks (frames × tiles) in one job. */
  maxTasksPerJob: int(1).default(20_000),
  /** Most tasks a requester may have in queued and running jobs together. */
  maxTasksInFlight: int(1).default(50_000),
  /** Most replicas a requester's queued and running jobs may start with (tasks × initial replicas). */
  maxReplicasInFlight: int(1).default(100_000),
  /** Worker registrations per address per minute. */
  registrationsPerMinute: int(1).default(20),
  /** Signed worker requests per key per second (polls, heartbeats, uploads). */
  workerRequestsPerSecond: int(1).default(50),
  /** Signed worker requests per address per second, all keys together (many keys, one machine). */
  workerRequestsPerAddressPerSecond: int(1).default(2000),
  /** Signed worker request bodies read at once per address, all keys together (each up to 16 × maxResultBytes). */
  workerBodiesPerAddress: int(1).default(16),
  /** Job submissions per requester per minute; also reservations, webhook registrations, and offers per provider. */
  submissionsPerMinute: int(1).default(60),
  /** Job estimates per requester per minute (each parses a scene; the submit form asks as you type). */
  estimatesPerMinute: int(1).default(600),
  /** MiB a requester may upload per minute: scene assets, glTF imports, and scenes sent inline (each body a MiB at least). */
  assetMiBPerMinute: int(1).default(4096),
  /**
   * MiB the gateway sends a worker key per minute (a blob larger than that costs it all): a worker
   * fetches a scene and its assets (at most maxSceneBytes + maxAssetBytes) once.
   */
  gatewayMiBPerMinute: int(1).default(2048),
  /** MiB of the CARs the gateway built that it keeps in memory, so that fetching a blob again costs no hashing. */
  gatewayCacheMiB: int(0).default(128),
  /**
   * MiB of CARs the gateway's responses under way may hold in this process, all keys together (a
   * blob fetched by many at once counts once); at least a scene and its assets (maxSceneBytes + maxAssetBytes).
   */
  gatewayInFlightMiB: int(1).default(1024),
  /** Requests per address per minute that fail authentication before the address is blocked a while. */
  failedAuthPerMinute: int(1).default(60),
  /**
   * Calibrations per worker key per hour: an honest worker calibrates once each time it starts;
   * each stores its answers (kept an hour, on every orchestrator), so a key re-sending near-miss
   * answers had stored 12 KB a request, 2.2 GB an hour.
   */
  calibrationsPerHour: int(1).default(60),
  /**
   * Calibrations per address per hour, all its keys together: with a fresh key at each registration
   * an address could store some 860 MB of answers an hour past the key's limit. The default is one
   * for each key an address may register in an hour (registrationsPerMinute × 60).
   */
  calibrationsPerAddressPerHour: int(1).default(1200),
  /** Tiles a requester may re-run per hour (each is rendered again by a trusted worker, at the farm's cost). */
  rerunsPerHour: int(1).default(200),

  // Webhooks (orchestrator/webhooks/).
  /** Deliver to loopback, private, link-local … addresses too (a farm on a private network; tests); off, they are refused (SSRF). */
  webhookAllowPrivate: z.union([z.boolean(), z.stringbool()]).default(false),
  /** A failed delivery is tried again after this, then after twice as long each time. */
  webhookBackoffMs: int(1).default(10_000),
  /** An event an orchestrator read from the outbox but did not queue this long ago (it died) is taken over by another. */
  webhookClaimMs: int(100).default(30_000),
  /** Failed delivery attempts in a row (any of its events) that disable a hook until its owner enables it again. */
  webhookFailureLimit: int(1).default(50),
  /** Deliveries one hook may have queued; its further events are dropped meanwhile. */
  webhookMaxPending: int(1).default(1000),

  /** Sample scenes offered by the dashboard. */
  scenesDir: z.string().default(fileURLToPath(new URL('../scenes', import.meta.url))),
  /** The dashboard's build output (`npm run build`). */
  dashboardDir: z.string().default(fileURLToPath(new URL('../dashboard/dist', import.meta.url))),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const OrchestratorConfig = settings
  .refine((c) => c.gatewayInFlightMiB * MIB >= c.maxSceneBytes + c.maxAssetBytes, {
    path: ['gatewayInFlightMiB'],
    message: `${settingName('gatewayInFlightMiB')} must hold a scene and its assets (maxSceneBytes + maxAssetBytes): the gateway could never send the largest`,
  })
  // An idle worker is seen at each poll, and counts as taking work in its class (keys.ts
  // classWorking) from a poll's look, recorded at most once a quarter of the online window (twice
  // the lease): at most a poll and half a lease apart, inside the window with a margin.
  .refine((c) => c.pollMs <= c.leaseMs, {
    path: ['pollMs'],
    message: `${settingName('pollMs')} must be at most ${settingName('leaseMs')}: an idle worker polling longer would drop out of the online window (twice the lease)`,
  });
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;

/** The economy's settings as the scripts take them: µc, and the fee in parts per million. */
export const economyOf = (config: OrchestratorConfig): Economy => ({
  feePpm: Math.round(config.feeShare * 1_000_000),
  stakePerReplicaMicros: toMicros(config.stakePerReplica),
  minStakeMicros: toMicros(config.minStake),
  deadlinePenaltyMicros: toMicros(config.deadlinePenalty),
  slashShare: config.slashShare,
  maxHeldReplicas: config.maxHeldReplicas,
  freeHandBacksPerHour: config.freeHandBacksPerHour,
});

/**
 * Settings from the environment: `FARM_<SETTING>` in upper snake case (`FARM_LEASE_MS`,
 * `FARM_SPOT_CHECK_RATE`), plus `FARM_TOKEN`, `REDIS_URL` and `LOG_LEVEL`.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(OrchestratorConfig.shape)) {
    const value = env[settingName(key)];
    if (value !== undefined) out[key] = value;
  }
  if (env.REDIS_URL) out.redisUrl = env.REDIS_URL;
  if (env.LOG_LEVEL) out.logLevel = env.LOG_LEVEL;
  return out;
}
