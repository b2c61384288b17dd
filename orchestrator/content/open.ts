/** Opens the content store the configuration names; the IPFS one loads Helia only when asked for. */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { OrchestratorConfig } from '../config.ts';
import { FsContentStore } from './fs-store.ts';
import type { ContentStore } from './store.ts';

export async function openContentStore(config: OrchestratorConfig, redis: Redis, log: Logger): Promise<ContentStore> {
  if (config.contentStore === 'fs') return new FsContentStore(config.dataDir);
  const { startIpfsStore } = await import('./ipfs-store.ts');
  return startIpfsStore({
    dataDir: config.dataDir,
    listen: config.ipfsListen,
    redis,
    log,
    timeoutMs: config.ipfsTimeoutMs,
    blobGraceMs: config.blobGraceMs,
    copies: config.ipfsCopies,
  });
}
