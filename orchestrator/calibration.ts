/**
 * Calibration: the known-answer tiles every worker renders before it gets work, and what its
 * answers make of it (classes.ts decides; this is the shell around it). The tiles are three bands
 * of the shipped Cornell box at 64×48 and 16 spp — every material the renderer has, about 50k
 * samples — so backends whose maths differ anywhere land in different classes.
 */
import { readFile } from 'node:fs/promises';
import { canonicalBytes, pixelsOf, type Rendered } from '../shared/image.ts';
import type { Calibrated, CalibrationSpec } from '../shared/protocol.ts';
import { maxRays } from '../shared/render-units.ts';
import { parseScene, type Scene, withOverrides } from '../shared/scene.ts';
import type { Rect } from '../shared/tile.ts';
import { cidOfBytes } from '../shared/unixfs.ts';
import type { ByteLru } from './byte-lru.ts';
import { classify, type KnownClass } from './classes.ts';
import type { ContentStore } from './content/store.ts';
import type { Classes, ClassRecord } from './state/classes.ts';
import type { WorkerRecord, Workers } from './state/workers.ts';
import type { Tolerance } from './verdict/tolerance.ts';

const SCENE = new URL('../scenes/cornell.json', import.meta.url);
/** Provisional classes kept at most (each new near-miss fingerprint would make one). */
const MAX_PROVISIONAL_CLASSES = 64;
const SIZE = { width: 64, height: 48, spp: 16 };

/** The calibration scene and its tiles (frame 0): what every worker renders first. */
export async function calibrationWork(): Promise<{ scene: Scene; tiles: Rect[] }> {
  const scene = withOverrides(parseScene(JSON.parse(await readFile(SCENE, 'utf8'))), SIZE);
  const band = SIZE.height / 3;
  return { scene, tiles: [0, 1, 2].map((i) => ({ x: 0, y: i * band, width: SIZE.width, height: band })) };
}

/** Stores the calibration scene (content-addressed, so the same CID on every start) and describes the tiles. */
export async function calibrationSpec(blobs: ContentStore): Promise<CalibrationSpec> {
  const { scene, tiles } = await calibrationWork();
  const cid = await blobs.put(new TextEncoder().encode(JSON.stringify(scene)));
  return { scene: cid, frame: 0, tiles };
}

export class CalibrationRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** An established class's answer could not be read (the IPFS store's peers did not answer in time): try again. */
export class AnswersUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

export interface CalibrationDeps {
  spec: CalibrationSpec;
  blobs: ContentStore;
  classes: Classes;
  workers: Workers;
  tolerance: Tolerance;
  /**
   * Established classes' answers, decoded, by CID (never stale): every calibration compares
   * against them, and a swarm of 10,000 workers calibrating read them from the blob store 10,000
   * times — from a peer, under load, for an orchestrator whose IPFS node holds no copy.
   */
  knownAnswers: ByteLru<Uint8Array>;
}

/**
 * A worker's answers: checked like any upload (size, ray count, claimed CIDs), stored, and
 * classified. `tiles` are the tiles' RGBA and rays, in the order of the spec.
 */
export async function calibrate(
  deps: CalibrationDeps,
  worker: WorkerRecord,
  claimed: readonly string[],
  tiles: readonly Rendered[],
): Promise<Calibrated> {
  const { spec } = deps;
  if (tiles.length !== spec.tiles.length || claimed.length !== spec.tiles.length)
    throw new CalibrationRejected(`send the ${spec.tiles.length} calibration tiles, each with its CID`);
  const cids: string[] = [];
  for (const [i, tile] of spec.tiles.entries()) {
    const { rgba, rays } = tiles[i];
    if (rgba.length !== tile.width * tile.height * 4)
      throw new CalibrationRejected(
        `tile ${i} has ${rgba.length} bytes; a ${tile.width}×${tile.height} RGBA tile has ${tile.width * tile.height * 4}`,
      );
    if (rays > maxRays(tile.width * tile.height, SIZE.spp))
      throw new CalibrationRejected(
        `tile ${i} claims ${rays} rays, more than a ${tile.width}×${tile.height} tile at ${SIZE.spp} spp can trace`,
      );
    const bytes = canonicalBytes({ ...tile, rgba, rays });
    const cid = await cidOfBytes(bytes);
    if (cid !== claimed[i]) throw new CalibrationRejected(`tile ${i} hashes to ${cid}, not the claimed ${claimed[i]}`);
    await deps.blobs.put(bytes, cid);
    cids.push(cid);
  }
  // Its pixels are in hand: no need to read back what was just stored.
  return classifyWorker(
    deps,
    worker,
    cids,
    tiles.map((t) => t.rgba),
  );
}

/**
 * A worker waiting for a class is looked at again: an unclassified one once a class exists, a
 * provisional one once its class has been established.
 */
export async function reconsider(deps: CalibrationDeps, worker: WorkerRecord): Promise<WorkerRecord> {
  const stale =
    (worker.classState === 'unclassified' && (await deps.classes.all()).some((c) => c.established)) ||
    (worker.classState === 'provisional' && (await deps.classes.get(worker.class))?.established === true);
  if (!stale || worker.calibration.length === 0) return worker;
  await classifyWorker(deps, worker, worker.calibration);
  return (await deps.workers.get(worker.id)) ?? worker;
}

/** `pixels`: the answers' pixels when in hand (a calibration's); read from the blob store otherwise. */
async function classifyWorker(
  deps: CalibrationDeps,
  worker: WorkerRecord,
  cids: readonly string[],
  pixels?: readonly Uint8Array[],
): Promise<Calibrated> {
  const records = (await deps.classes.all()).filter((c) => c.calibration === deps.spec.scene);
  // Only established classes are compared against: provisional ones never define an answer.
  const known: KnownClass[] = await Promise.all(
    records
      .filter((c) => c.established)
      .map(async (c) => ({ id: c.id, established: true, cids: c.answers, pixels: await answersOf(deps, c.answers, true) })),
  );
  let verdict = classify({ cids, pixels: pixels ?? (await answersOf(deps, cids)) }, known, worker.trusted, deps.tolerance);
  const existing = verdict.class ? records.find((c) => c.id === verdict.class) : undefined;
  // Near-misses are cheap to make: past a bound, new provisional classes are refused.
  if (verdict.state === 'provisional' && !existing && records.filter((c) => !c.established).length >= MAX_PROVISIONAL_CLASSES) {
    verdict = {
      ...verdict,
      class: null,
      state: 'refused',
      near: null,
      detail: 'too many provisional classes: the operator must establish one first',
    };
  }
  if (verdict.class && (verdict.establishes || !existing)) {
    const record: ClassRecord = {
      id: verdict.class,
      established: verdict.establishes || existing?.established === true,
      near: verdict.near,
      answers: [...cids],
      at: Date.now(),
      calibration: deps.spec.scene,
    };
    await deps.classes.save(record);
  }
  await deps.workers.setClass(worker.id, verdict.class, verdict.state, cids);
  return { class: verdict.class, classState: verdict.state, detail: verdict.detail };
}

/** The pixels of calibration answers; `known`: an established class's, kept (CalibrationDeps.knownAnswers). */
async function answersOf(deps: CalibrationDeps, cids: readonly string[], known = false): Promise<Uint8Array[]> {
  return Promise.all(
    cids.map(async (cid, i) => {
      const kept = deps.knownAnswers.get(cid);
      if (kept) return kept;
      const tile = deps.spec.tiles[i];
      const bytes = await deps.blobs.get(cid);
      if (!bytes) throw new AnswersUnavailable(`calibration answer ${cid} could not be read from the blob store; try again`);
      const pixels = pixelsOf(bytes, tile.width, tile.height);
      return known ? deps.knownAnswers.set(cid, pixels, pixels.byteLength) : pixels;
    }),
  );
}
