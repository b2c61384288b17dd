/**
 * The IPFS node's repo on disk: its blocks and its datastore (pins, the peer id's key) in two
 * LevelDB databases under <dataDir>/ipfs. One file per block and per pin record (blockstore-fs,
 * datastore-fs, which this farm used before) cost some eight filesystem calls a stored blob; in
 * LevelDB a blob's writes are appends to one log (bench:farm, three orchestrators: 73–79 → 142–144
 * tasks/s). LevelDB locks its directory, so two orchestrators cannot share one repo by mistake.
 * A repo of the older layout is copied in at start, then removed.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FsBlockstore } from 'blockstore-fs';
import { LevelBlockstore } from 'blockstore-level';
import { FsDatastore } from 'datastore-fs';
import { LevelDatastore } from 'datastore-level';
import type { Logger } from 'pino';

export interface Repo {
  blockstore: LevelBlockstore;
  datastore: LevelDatastore;
}

export async function openRepo(dir: string, log: Logger): Promise<Repo> {
  const repo = { blockstore: new LevelBlockstore(join(dir, 'blocks.level')), datastore: new LevelDatastore(join(dir, 'datastore.level')) };
  // Closed again on any failure here: LevelDB's lock would refuse the next open in this process.
  const closeAll = () => closeRepo(repo).catch(() => undefined);
  try {
    await Promise.all([repo.blockstore.open(), repo.datastore.open()]);
  } catch (e) {
    await closeAll();
    throw new Error(
      `cannot open the IPFS repo in ${dir} (is another orchestrator using this data directory? each needs its own): ${(e as Error).message}`,
    );
  }
  await migrateFsRepo(dir, repo, log).catch(async (e) => {
    await closeAll();
    throw e;
  });
  return repo;
}

/** Closes both stores, which lets go of LevelDB's lock (Helia's stop does not close them). */
export async function closeRepo(repo: Repo): Promise<void> {
  await Promise.all([repo.blockstore.close(), repo.datastore.close()]);
}

/**
 * Copies a repo of the file-per-entry layout (blocks/, datastore/) into `repo`, then removes it.
 * Idempotent: a copy cut short by a crash is made again at the next start, from the old layout,
 * which goes only once everything is in; nothing writes to the new repo before this returns.
 */
async function migrateFsRepo(dir: string, repo: Repo, log: Logger): Promise<void> {
  const [blocksDir, datastoreDir] = [join(dir, 'blocks'), join(dir, 'datastore')];
  if (!existsSync(blocksDir) && !existsSync(datastoreDir)) return;
  let blocks = 0;
  let entries = 0;
  if (existsSync(blocksDir)) {
    const old = new FsBlockstore(blocksDir);
    await old.open();
    for await (const _ of repo.blockstore.putMany(old.getAll())) blocks++;
    await old.close();
  }
  if (existsSync(datastoreDir)) {
    const old = new FsDatastore(datastoreDir);
    await old.open();
    for await (const _ of repo.datastore.putMany(old.query({}))) entries++;
    await old.close();
  }
  // Only once both are in: after a crash here, what is not yet removed is copied again.
  await rm(blocksDir, { recursive: true, force: true });
  await rm(datastoreDir, { recursive: true, force: true });
  log.info({ dir, blocks, entries }, 'ipfs repo moved from files to LevelDB');
}
