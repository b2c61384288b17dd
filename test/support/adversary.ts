/**
 * Scripted adversaries for test/adversary/: many keys of one attacker, speaking the documented
 * protocol from the test process. They calibrate with answers the attacker rendered once (as a
 * real attacker would: calibration is not secret), stake what the attacker gives them, and answer
 * every replica with the attacker's strategy.
 */
import { canonicalCid, type Rendered } from '../../shared/image.ts';
import type { Assignment, Calibrated, CalibrationSpec } from '../../shared/protocol.ts';
import { parseScene } from '../../shared/scene.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../../shared/signing.ts';
import { WorkerClient } from '../../worker/client.ts';
import { Renderer } from '../../worker/render/renderer.ts';

export interface Answers {
  spec: CalibrationSpec;
  cids: string[];
  tiles: Rendered[];
}

export interface Key {
  id: string;
  client: WorkerClient;
  calibrated: Calibrated;
}

/** What an attacker's key returns for a replica: pixels, or nothing (it sits on the replica). */
export type Strategy = (a: Assignment, key: Key) => Promise<Uint8Array | undefined>;

export function newClient(url: string): { id: string; client: WorkerClient } {
  const { privateKeyPem, publicKeyDer } = newKeyPair();
  const id = workerIdOf(publicKeyDer);
  return { id, client: new WorkerClient(url, { id, key: loadPrivateKey(privateKeyPem).key, publicKeyDer }) };
}

/** The calibration answers of the webasm renderer: what an honest worker of that class sends. */
export async function renderCalibration(url: string): Promise<Answers> {
  const { client } = newClient(url);
  const registered = await client.register('attacker-probe', 'probe');
  const spec = registered.calibration as CalibrationSpec;
  const scene = parseScene(await client.scene(spec.scene));
  const renderer = await Renderer.open('webasm');
  try {
    const tiles: Rendered[] = [];
    for (const tile of spec.tiles) tiles.push(await renderer.render(scene, spec.frame, { tile }));
    return { spec, tiles, cids: await cidsOf(spec, tiles) };
  } finally {
    renderer.close();
  }
}

export const cidsOf = (spec: CalibrationSpec, tiles: readonly Rendered[]): Promise<string[]> =>
  Promise.all(spec.tiles.map((t, i) => canonicalCid({ width: t.width, height: t.height, ...tiles[i] })));

/** Flat pixels of one shade for an assignment's tile. */
export const flat = (a: Assignment, shade: number): Uint8Array => new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade);

export class Attacker {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly abort = new AbortController();
  /** Replicas each key was handed, in order (for tests that inspect what they saw). */
  readonly seen = new Map<string, Assignment[]>();

  private constructor(readonly keys: Key[]) {}

  /**
   * Registers `count` keys claiming `device`, calibrates each with `answers`, and has the
   * operator (`grant`) give each `stake` credits, which it stakes.
   */
  static async join(
    url: string,
    count: number,
    opts: { answers: Answers; device?: string; stake?: number; grant?: (id: string, credits: number) => Promise<void> },
  ): Promise<Attacker> {
    const keys: Key[] = [];
    for (let i = 0; i < count; i++) {
      const { id, client } = newClient(url);
      await client.register(`sybil-${i}`, opts.device ?? 'farm-pt/1+webasm');
      const calibrated = await client.calibrate(opts.answers.cids, opts.answers.tiles);
      if (opts.stake && opts.grant) {
        await opts.grant(id, opts.stake);
        await client.stake(opts.stake);
      }
      keys.push({ id, client, calibrated });
    }
    return new Attacker(keys);
  }

  get ids(): string[] {
    return this.keys.map((k) => k.id);
  }

  /** Every key polls and answers with the strategy until stop(). */
  run(strategy: Strategy): void {
    this.running = true;
    for (const key of this.keys) {
      this.seen.set(key.id, []);
      this.loops.push(
        (async () => {
          while (this.running) {
            try {
              const a = await key.client.next(this.abort.signal);
              if (!a) continue;
              this.seen.get(key.id)?.push(a);
              const pixels = await strategy(a, key);
              if (pixels)
                await key.client.upload(
                  a.replica,
                  await canonicalCid({ width: a.tile.width, height: a.tile.height, rgba: pixels, rays: 0 }),
                  { rgba: pixels, rays: 0 },
                );
            } catch {
              if (this.running) await new Promise((r) => setTimeout(r, 200));
            }
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.all(this.loops);
  }
}
