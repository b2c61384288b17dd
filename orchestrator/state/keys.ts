/** Redis key names of the farm's own state (BullMQ keeps its keys under `bull:`). */
export const keys = {
  job: (id: string) => `farm:job:${id}`,
  jobFrames: (id: string) => `farm:job:${id}:frames`,
  jobFrameCids: (id: string) => `farm:job:${id}:framecids`,
  /** How many times each frame became complete (a reopened frame completes again). */
  jobFrameGen: (id: string) => `farm:job:${id}:framegen`,
  /** Pub/sub channel of the job's change notices (state/events.ts). */
  jobEvents: (id: string) => `farm:job:${id}:events`,
  /** The job id in a channel named by jobEvents. */
  jobOfEvents: (channel: string) => channel.slice('farm:job:'.length, -':events'.length),
  workerVouched: (id: string) => `farm:worker:${id}:vouched`,
  jobsAll: 'farm:jobs',
  jobsActive: 'farm:jobs:active',
  jobsOf: (owner: string) => `farm:jobs:owner:${owner}`,
  task: (id: string) => `farm:task:${id}`,
  taskReplicas: (id: string) => `farm:task:${id}:replicas`,
  worker: (id: string) => `farm:worker:${id}`,
  workerActive: (id: string) => `farm:worker:${id}:active`,
  workerEvidence: (id: string) => `farm:worker:${id}:evidence`,
  workersAll: 'farm:workers',
  tokens: 'farm:tokens',
};
