/**
 * Every Redis key of the farm's own state, in one table (BullMQ keeps its keys under `bull:`).
 * TypeScript gets a function per key; the Lua scripts get the same functions generated from this
 * table (`K.worker(id)`, `K.treasury`), so no script spells a key name of its own.
 */
const PREFIX = 'farm:';

/** Keys of one thing: `{}` is its id. */
const PER_ID = {
  job: 'job:{}',
  jobFrames: 'job:{}:frames',
  jobFrameCids: 'job:{}:framecids',
  /** How many times each frame became complete (a reopened frame completes again). */
  jobFrameGen: 'job:{}:framegen',
  /** Pub/sub channel of the job's change notices (state/events.ts). */
  jobEvents: 'job:{}:events',
  /** The job's tasks that are still pending: what timeouts, recovery and cancellation walk. */
  jobPending: 'job:{}:pending',
  jobBlacklist: 'job:{}:blacklist',
  /** worker → tiles of this job it took a real replica of (the per-worker share cap). */
  jobShare: 'job:{}:share',
  /** worker → real replicas of this job it took and let go (timed out, handed back, failed): share it used up itself. */
  jobShareLetGo: 'job:{}:share:letgo',
  jobsOf: 'jobs:owner:{}',
  /** A requester (a token's owner): its work in flight (quotas: tasks, replicas) and its account (balance, held). */
  owner: 'owner:{}',
  task: 'task:{}',
  taskReplicas: 'task:{}:replicas',
  /** An opaque replica id → `<task> <slot number>`. */
  replica: 'replica:{}',
  worker: 'worker:{}',
  /** Replica ids the worker holds (rendering, not yet uploaded). */
  workerActive: 'worker:{}:active',
  workerEvidence: 'worker:{}:evidence',
  workerVouched: 'worker:{}:vouched',
  /** Its accepted results per minute over the last hour: a ring of minute fields (includes/reputation.lua). */
  workerRecent: 'worker:{}:recent',
  /** What requesters paid it (µc, before the fee), per minute over the last hour: the same ring. */
  workerRecentPaid: 'worker:{}:recent-paid',
  /** Hand-backs counted against its free ones this hour (includes/holders.lua countHandBack). */
  workerHandBacks: 'worker:{}:hand-backs',
  /** class → JSON {passed} of the classes the worker is not in now (credibility is per class). */
  workerClasses: 'worker:{}:classes',
  /** Leaderboard index: worker → the field's value. */
  workersBy: 'workers:by:{}',
  /**
   * Workers of a class taking work, by when they last did (availability.lua: eligibility, the
   * small-farm grace): a look for work (an untrusted one's), a heartbeat or poll while holding a
   * replica, any heartbeat or poll of a trusted one. A key that only beats is not in it. (Its name
   * is from when it held every worker seen: a farm upgraded starts with it full, not empty.)
   */
  classWorking: 'class:{}:seen',
  /** Trusted workers of a class by last seen (arbitration). */
  classTrusted: 'class:{}:trusted',
  /** Tiles of a class verified with a trusted worker in the accepted group: known answers. */
  spotPool: 'spot:{}',
  /** A class's stocking audits out: task → when reserved (stock-reserve.lua). */
  stocking: 'stocking:{}',
  /**
   * `<class>:<standing>` → how long real replicas' verdicts took after their upload (ms), newest
   * first: what a spot check's verdict waits (includes/latency.lua).
   */
  verdictLatencies: 'verdicts:latency:{}',
  /** A signature already used (replay cache). */
  replay: 'replay:{}',
  /** A ledger account's entries (a worker id, a requester's owner id, or `treasury`). */
  ledger: 'ledger:{}',
  /** Who runs a periodic duty for a period (`<duty>:<period start>`): one orchestrator per period (duties.ts). */
  dutyLease: 'duty:lease:{}',
  /** A forward window (its start): state (open | cleared | settled), price, volume, order counts, excused replicas out (excusedOut). */
  forward: 'forward:{}',
  /** The window's orders (bids and offers) by when they were placed: time priority. */
  forwardOrders: 'forward:{}:orders',
  /** worker → rays it sold in the window, delivered on buyers' jobs, and ms it asked for work while buyers had none. */
  forwardOwed: 'forward:{}:owed',
  forwardDelivered: 'forward:{}:delivered',
  forwardIdle: 'forward:{}:idle',
  /** worker → its buyers' replicas it holds unanswered: while it holds one it is not idle. */
  forwardHeld: 'forward:{}:held',
  /** worker → µc of collateral backing what it sold in the window. */
  forwardCollateral: 'forward:{}:collateral',
  /** Buyers with a prepaid share of the window. */
  forwardBuyers: 'forward:{}:buyers',
  /** A buyer's prepaid share of a window (`<window>:<owner>`): escrow, committed, owner, rays entitled and received. */
  forwardPot: 'fpot:{}',
  /** A reservation or an offer: side, account, window, units, limit, what it locked, units filled, state. */
  order: 'order:{}',
  /** An account's reservations or offers, by when they were placed. */
  ordersOf: 'orders:{}',
  /** A requester's webhook: owner, url, events, secret, createdAt; failures in a row, and disabledAt, disabledReason. */
  webhook: 'webhook:{}',
  /** A requester's (a token owner's) webhook ids: the outbox keeps events of owners that have one. */
  webhooksOf: 'webhooks:owner:{}',
  /** A webhook's deliveries queued and not yet ended: delivery job id → when queued (the per-hook cap). */
  webhookPending: 'webhook:{}:pending',
} as const;

/** Keys of the farm as a whole. */
const FIXED = {
  jobsAll: 'jobs',
  jobsActive: 'jobs:active',
  /** Running jobs by the time they time out. */
  jobDeadlines: 'jobs:deadlines',
  /** Cancelled or failed jobs whose replicas are still being wound down. */
  jobsClosing: 'jobs:closing',
  /** Ended jobs by when they ended (0: deletion asked for): what retention deletes. */
  jobsEnded: 'jobs:ended',
  /** Pending tasks by when to look at them again (small-farm grace). */
  tasksIdle: 'tasks:idle',
  /** Spot-check replicas held, by lease expiry (real replicas' leases are BullMQ locks). */
  spotLeases: 'spot:leases',
  /** Spot-check replicas answered, by when their verdict is due (submit.lua). */
  spotDue: 'spot:due',
  /**
   * Workers caught against ground truth whose vouched verdicts are still to be weighed again, by
   * when they were caught: the backtracking a crash interrupted is finished by the sweep.
   */
  backtracksDue: 'backtracks:due',
  /**
   * Finished jobs' tiles backtracking marked below θ because no trusted worker was online to render
   * them again, by when they were last looked at: re-run once one is (rerun.ts rerunMarked).
   */
  tasksMarked: 'tasks:marked',
  workersAll: 'workers',
  /** The farm's id (state/farm-id.ts). */
  farmId: 'id',
  /** CIDs uploaded as scene assets → `<ms of the last upload> <bytes>` (state/assets.ts): never a result's. */
  assets: 'assets',
  /** Requesters (token owner ids) by when their token was added: the requester accounts. */
  requestersAll: 'requesters',
  /** Workers by when their unbonding stake is paid out. */
  unbonding: 'unbonding',
  /** class id → JSON class record. */
  classes: 'classes',
  treasury: 'treasury',
  tokens: 'tokens',
  /** Digests of operator tokens a rotation replaced: never taken again (operator-token.lua). */
  operatorTokensRevoked: 'tokens:operator-revoked',
  /** The last market clearing, with its curves (JSON). */
  marketLast: 'market:last',
  /** The last clearing price that traded (ticks per RU). */
  marketTraded: 'market:traded',
  /** Every clearing by interval start: {at, price, volume} (ticks, book units). */
  marketClearings: 'market:clearings',
  /** Forward windows that have orders, by start: what the forward duty clears and settles. */
  forwardsAll: 'forwards',
  /** duty → how many periods it ran, across the farm. */
  dutyRuns: 'duty:runs',
  /** Orchestrators (their duty-lease names) by when each last said it was alive (state/orchestrators.ts). */
  orchestrators: 'orchestrators',
  /** Prefix of the rate limiters' keys. */
  rateLimits: 'rl',
  /** IPFS peer id → its libp2p addresses and when it last said it was alive (content/ipfs-peering.ts). */
  ipfsPeers: 'ipfs:peers',
  /** Channel: a blob one orchestrator stored, for the others to copy. */
  ipfsStored: 'ipfs:stored',
  /** Channel: an orchestrator holds a copy of a blob. */
  ipfsHeld: 'ipfs:held',
  /** Stream of job events for webhooks, appended by the scripts that make them happen (includes/outbox.lua). */
  outbox: 'outbox',
} as const;

type PerId = { [K in keyof typeof PER_ID]: (id: string) => string };
type Fixed = { [K in keyof typeof FIXED]: string };

export const keys: PerId & Fixed = {
  ...(Object.fromEntries(
    Object.entries(PER_ID).map(([name, template]) => [name, (id: string) => PREFIX + template.replace('{}', id)]),
  ) as PerId),
  ...(Object.fromEntries(Object.entries(FIXED).map(([name, key]) => [name, PREFIX + key])) as Fixed),
};

/** The job id in a channel named by keys.jobEvents. */
export function jobOfEvents(channel: string): string | undefined {
  const [before, after] = PER_ID.jobEvents.split('{}');
  return channel.startsWith(PREFIX + before) && channel.endsWith(after)
    ? channel.slice(PREFIX.length + before.length, channel.length - after.length)
    : undefined;
}

/**
 * The same table as Lua, `local K = {}` with a function per keyed template, holding only the
 * entries `source` uses: a script runs its preamble on every call, and the whole table (some 70
 * closures) cost Redis about 5 µs a call. A name the table lacks fails here, when the scripts
 * load, not when a call reaches it.
 */
export function luaKeyTable(source: string): string {
  const quote = (s: string) => `'${s.replace(/'/g, "\\'")}'`;
  const used = new Set(Array.from(source.matchAll(/\bK\.(\w+)/g), (m) => m[1]));
  const lines = [...used].map((name) => {
    if (Object.hasOwn(PER_ID, name)) {
      const [before, after] = PER_ID[name as keyof typeof PER_ID].split('{}');
      return `K.${name} = function(id) return ${quote(PREFIX + before)} .. id${after ? ` .. ${quote(after)}` : ''} end`;
    }
    if (Object.hasOwn(FIXED, name)) return `K.${name} = ${quote(PREFIX + FIXED[name as keyof typeof FIXED])}`;
    throw new Error(`Lua uses K.${name}, which keys.ts does not name`);
  });
  return `local K = {}\n${lines.join('\n')}\n`;
}
