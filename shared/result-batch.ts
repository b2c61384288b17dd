/**
 * The body of a batched upload (PUT /api/work/results): a 4-byte big-endian length, the manifest
 * as JSON, then each result's pixels back to back in manifest order. One signature covers it all,
 * so the manifest — which replica, which CID, how many rays — is signed with the pixels.
 */
import { type FieldIssue, formatIssues } from './problem.ts';
import { ResultManifest } from './protocol.ts';

export interface BatchedResult {
  replica: string;
  cid: string;
  rays: number;
  rgba: Uint8Array;
}

/** Why a body is not a batch, naming the part at fault. */
export class BatchFramingError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    this.name = this.constructor.name;
  }
}

const LENGTH_BYTES = 4;

export function encodeResultBatch(results: readonly BatchedResult[]): Uint8Array {
  const manifest = new TextEncoder().encode(
    JSON.stringify(results.map(({ replica, cid, rays, rgba }) => ({ replica, cid, rays, bytes: rgba.length }))),
  );
  const out = new Uint8Array(LENGTH_BYTES + manifest.length + results.reduce((n, r) => n + r.rgba.length, 0));
  new DataView(out.buffer).setUint32(0, manifest.length);
  out.set(manifest, LENGTH_BYTES);
  let offset = LENGTH_BYTES + manifest.length;
  for (const { rgba } of results) {
    out.set(rgba, offset);
    offset += rgba.length;
  }
  return out;
}

/** The results a body carries; throws BatchFramingError when its framing or manifest is wrong. */
export function decodeResultBatch(body: Uint8Array): BatchedResult[] {
  const framing = (path: string, message: string) => new BatchFramingError([{ path, message }]);
  if (body.length < LENGTH_BYTES) throw framing('body', `a batch starts with its manifest's length in ${LENGTH_BYTES} bytes`);
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (length > body.length - LENGTH_BYTES)
    throw framing('body', `the manifest claims ${length} bytes; the body has ${body.length - LENGTH_BYTES} after its length`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(LENGTH_BYTES, LENGTH_BYTES + length)));
  } catch (e) {
    throw framing('manifest', `not JSON: ${(e as Error).message}`);
  }
  const parsed = ResultManifest.safeParse(json);
  if (!parsed.success)
    throw new BatchFramingError(
      formatIssues(parsed.error).map((i) => ({
        ...i,
        path: i.path === '(root)' ? 'manifest' : `manifest${i.path.startsWith('[') ? '' : '.'}${i.path}`,
      })),
    );
  const manifest = parsed.data;
  const pixels = body.length - LENGTH_BYTES - length;
  const claimed = manifest.reduce((n, r) => n + r.bytes, 0);
  if (claimed !== pixels) throw framing('manifest', `its results claim ${claimed} bytes of pixels; the body carries ${pixels}`);
  let offset = LENGTH_BYTES + length;
  return manifest.map(({ replica, cid, rays, bytes }) => {
    const rgba = body.subarray(offset, offset + bytes);
    offset += bytes;
    return { replica, cid, rays, rgba };
  });
}
