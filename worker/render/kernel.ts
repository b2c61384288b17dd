/**
 * The path-tracing kernel, written in the subset of JavaScript that gpu.js compiles to WGSL,
 * WebAssembly and plain JS. Rules that shape it:
 * - helpers take and return scalars only (webasm), so vector maths is written out per component;
 * - no recursion and no local arrays: bounces are a loop, BVH traversal follows skip links;
 * - loop bounds come from `this.constants`, so gpu.js compiles them in and never truncates them;
 * - randomness is Wichmann–Hill: three LCGs whose products stay below 2^24 and are therefore exact
 *   in f32. Each pixel's generator is seeded from TypeScript by (scene seed, frame, global x, y), so
 *   a pixel's samples are identical whichever tile it is rendered in.
 *
 * A cell traces one group of a pixel's samples (sample-plan.ts) and returns their sum. `units`
 * holds two numbers per output row: the tile row it renders and how many samples its cells trace
 * (0 for padding); cells right of the tile's width (cam[32]) trace none either.
 *
 * One loop iteration traces one ray. A diffuse hit queues a shadow ray toward a sampled light
 * (next-event estimation) and parks the continuation ray; the next iteration traces the shadow
 * ray and the one after resumes the path.
 *
 * Light escaping the scene comes from the sky: a two-colour gradient, or an HDRI (`env`, with the
 * tables `envCdf` by which next-event estimation picks its bright pixels).
 *
 * Each pixel also returns how many rays it traced (camera, path and shadow rays): the work the
 * market meters in render units. The count follows the same deterministic paths as the pixels,
 * so replicas that agree on the pixels agree on it; so does its work (BVH boxes visited and
 * primitives tested), returned in the same number, by which the renderer refuses a tile whose rays
 * cost too much (render-units.ts). A cell past `cellWorkPerRay` a ray stops there and returns -1.
 */

export interface KernelConstants {
  /** Samples per group: the sample loop's bound. */
  group: number;
  /** The most rays a sample traces (shared/render-units.ts): one loop iteration each. */
  segments: number;
  maxBounces: number;
  /** Upper bound on BVH nodes visited per ray (each node is visited at most once). */
  maxSteps: number;
  /** The most BVH nodes visited and primitives tested a cell may spend per ray it traced, two rays of slack (render-units.ts). */
  cellWorkPerRay: number;
  /** What a cell's work is rounded up to, above its most rays (render-units.ts workQuantum). */
  workQuantum: number;
  /** Most primitives in one BVH leaf. */
  leafSize: number;
  /** 1: next-event estimation; 0: naive tracer, kept for the benchmark's comparison. */
  nee: number;
  /** Binary-search steps over the HDRI sky's tables (0: no sky). */
  searchSteps: number;
}

interface KernelThis {
  thread: { x: number; y: number };
  output: { x: number; y: number };
  constants: KernelConstants;
}

export function pathTrace(
  this: KernelThis,
  prims: Float32Array,
  nodes: Float32Array,
  mats: Float32Array,
  lights: Float32Array,
  uvs: Float32Array,
  texels: Float32Array,
  env: Float32Array,
  envCdf: Float32Array,
  seeds: Float32Array,
  units: Float32Array,
  cam: Float32Array,
): number[] {
  const si = (this.thread.y * this.output.x + this.thread.x) * 3;
  let s1 = seeds[si];
  let s2 = seeds[si + 1];
  let s3 = seeds[si + 2];
  const px = cam[0] + this.thread.x;
  const py = cam[1] + units[this.thread.y * 2];
  let samples = units[this.thread.y * 2 + 1];
  if (this.thread.x >= cam[32]) samples = 0;
  const lightCount = cam[18];
  let sumR = 0;
  let sumG = 0;
  let sumB = 0;
  let rays = 0;
  // BVH nodes visited and primitives tested: a cell over its budget stops and says so (rays -1).
  let work = 0;
  let spent = 0;

  for (let sample = 0; sample < this.constants.group; sample++) {
    if (sample >= samples) break;
    let ox = 0;
    let oy = 0;
    let oz = 0;
    let dx = 0;
    let dy = 0;
    let dz = 0;
    let tmax = 1e30;
    // Parked continuation of the path while a shadow ray is traced.
    let nox = 0;
    let noy = 0;
    let noz = 0;
    let ndx = 0;
    let ndy = 0;
    let ndz = 0;
    let thrR = 1;
    let thrG = 1;
    let thrB = 1;
    // Radiance the queued shadow ray carries if it reaches its light, and the share of it that
    // the thin panes it crosses let through.
    let pendR = 0;
    let pendG = 0;
    let pendB = 0;
    let passR = 1;
    let passG = 1;
    let passB = 1;
    let camera = 1;
    let shadow = 0;
    let depth = 0;
    let countAllEmission = 1;
    // Density (per steradian) with which the last diffuse bounce drew its direction: cos θ / π.
    let bouncePdf = 1;
    let alive = 1;

    for (let seg = 0; seg < this.constants.segments; seg++) {
      let r0 = 0;
      let r1 = 0;
      let r2 = 0;
      let r3 = 0;
      let r4 = 0;
      let r5 = 0;
      // cos and sin of 2π·r1 and 2π·r4, the angles a bounce may need.
      let cos1 = 1;
      let sin1 = 0;
      let cos4 = 1;
      let sin4 = 0;
      if (shadow === 0) {
        for (let k = 0; k < 6; k++) {
          // rng:begin (test/rng.test.ts compiles this block on every backend)
          // Wichmann–Hill: three LCGs, each product below 2^24 and so exact in f32. The quotient
          // comes from a reciprocal multiply (cheaper than a division, and WGSL division may be
          // 2.5 ULP off anyway); one that rounded across an integer is corrected after.
          const p1 = s1 * 171;
          s1 = p1 - Math.floor(p1 * 3.3037100664045725e-5) * 30269;
          if (s1 < 0) s1 = s1 + 30269;
          if (s1 >= 30269) s1 = s1 - 30269;
          const p2 = s2 * 172;
          s2 = p2 - Math.floor(p2 * 3.2995677566238825e-5) * 30307;
          if (s2 < 0) s2 = s2 + 30307;
          if (s2 >= 30307) s2 = s2 - 30307;
          const p3 = s3 * 170;
          s3 = p3 - Math.floor(p3 * 3.297826732183491e-5) * 30323;
          if (s3 < 0) s3 = s3 + 30323;
          if (s3 >= 30323) s3 = s3 - 30323;
          const t = s1 * 3.3037100664045725e-5 + s2 * 3.2995677566238825e-5 + s3 * 3.297826732183491e-5;
          const u = t - Math.floor(t);
          if (k === 0) r0 = u;
          if (k === 1) r1 = u;
          if (k === 2) r2 = u;
          if (k === 3) r3 = u;
          if (k === 4) r4 = u;
          if (k === 5) r5 = u;
          // rng:end
          if (k === 1 || k === 4) {
            // cos and sin of 2πu as polynomials: webasm calls out to JavaScript for Math.cos
            // and Math.sin one SIMD lane at a time, which cost 40% of the render. Folded to a
            // quarter turn, the Taylor series to a^12 is accurate to 7e-9.
            for (let h = 0; h < 2; h++) {
              let x = u - 0.25 * h; // sin(2πu) = cos(2π(u - 1/4))
              x = x - Math.floor(x);
              x = Math.min(x, 1 - x);
              let sign = 1;
              if (x > 0.25) {
                x = 0.5 - x;
                sign = -1;
              }
              const a2 = 39.47841760435743 * x * x;
              const v =
                sign * (1 + a2 * (-0.5 + a2 * (1 / 24 + a2 * (-1 / 720 + a2 * (1 / 40320 + a2 * (-1 / 3628800 + a2 / 479001600))))));
              if (k === 1 && h === 0) cos1 = v;
              if (k === 1 && h === 1) sin1 = v;
              if (k === 4 && h === 0) cos4 = v;
              if (k === 4 && h === 1) sin4 = v;
            }
          }
        }
      }

      if (camera === 1) {
        camera = 0;
        const ndcX = (2 * (px + r0)) / cam[2] - 1;
        const ndcY = 1 - (2 * (py + r1)) / cam[3];
        dx = cam[7] + ndcX * cam[10] + ndcY * cam[13];
        dy = cam[8] + ndcX * cam[11] + ndcY * cam[14];
        dz = cam[9] + ndcX * cam[12] + ndcY * cam[15];
        ox = cam[4];
        oy = cam[5];
        oz = cam[6];
        if (cam[16] > 0) {
          // Thin lens: aim at the focus plane from a point on the aperture disc.
          const fx = ox + dx * cam[17];
          const fy = oy + dy * cam[17];
          const fz = oz + dz * cam[17];
          const lr = cam[16] * Math.sqrt(r2);
          const lu = lr * cos4;
          const lv = lr * sin4;
          ox = ox + lu * cam[26] + lv * cam[29];
          oy = oy + lu * cam[27] + lv * cam[30];
          oz = oz + lu * cam[28] + lv * cam[31];
          dx = fx - ox;
          dy = fy - oy;
          dz = fz - oz;
        }
        const dl = 1 / Math.sqrt(dx * dx + dy * dy + dz * dz);
        dx = dx * dl;
        dy = dy * dl;
        dz = dz * dl;
        ox = ox + dx * cam[25];
        oy = oy + dy * cam[25];
        oz = oz + dz * cam[25];
        tmax = 1e30;
      } else {
        // ---- closest hit below tmax ----
        rays = rays + 1;
        let hitT = tmax;
        let hitPrim = -1;
        const ix = 1 / (Math.abs(dx) < 1e-12 ? (dx < 0 ? -1e-12 : 1e-12) : dx);
        const iy = 1 / (Math.abs(dy) < 1e-12 ? (dy < 0 ? -1e-12 : 1e-12) : dy);
        const iz = 1 / (Math.abs(dz) < 1e-12 ? (dz < 0 ? -1e-12 : 1e-12) : dz);
        let node = 0;
        for (let step = 0; step < this.constants.maxSteps; step++) {
          if (node < 0) break;
          work = work + 1;
          if (work > (rays + 2) * this.constants.cellWorkPerRay) {
            spent = 1;
            break;
          }
          const nb = node * 9;
          const ax = (nodes[nb] - ox) * ix;
          const bx = (nodes[nb + 3] - ox) * ix;
          const ay = (nodes[nb + 1] - oy) * iy;
          const by = (nodes[nb + 4] - oy) * iy;
          const az = (nodes[nb + 2] - oz) * iz;
          const bz = (nodes[nb + 5] - oz) * iz;
          const tNear = Math.max(Math.max(Math.min(ax, bx), Math.min(ay, by)), Math.max(Math.min(az, bz), 0));
          const tFar = Math.min(Math.min(Math.max(ax, bx), Math.max(ay, by)), Math.min(Math.max(az, bz), hitT));
          const count = nodes[nb + 8];
          if (tNear <= tFar && count > 0) {
            const first = nodes[nb + 7];
            for (let j = 0; j < this.constants.leafSize; j++) {
              if (j < count) {
                work = work + 1;
                const p = (first + j) * 24;
                const type = prims[p];
                let t = -1;
                if (type === 0) {
                  const cx = ox - prims[p + 4];
                  const cy = oy - prims[p + 5];
                  const cz = oz - prims[p + 6];
                  const rad = prims[p + 7];
                  const b = cx * dx + cy * dy + cz * dz;
                  // Distance from the centre to the ray's line, computed without cancellation.
                  const hx = cx - b * dx;
                  const hy = cy - b * dy;
                  const hz = cz - b * dz;
                  const hl = Math.sqrt(hx * hx + hy * hy + hz * hz);
                  const disc = (rad - hl) * (rad + hl);
                  if (disc >= 0) {
                    const sq = Math.sqrt(disc);
                    t = -b - sq;
                    if (t <= 0) t = -b + sq;
                  }
                } else if (type === 1) {
                  const nx = prims[p + 13];
                  const ny = prims[p + 14];
                  const nz = prims[p + 15];
                  const den = nx * dx + ny * dy + nz * dz;
                  const tq = (prims[p + 19] - (nx * ox + ny * oy + nz * oz)) / den;
                  // Where the plane is met out of range, the point need not be placed on it.
                  if (Math.abs(den) > 1e-9 && tq > 0 && tq < hitT) {
                    const qx = ox + tq * dx - prims[p + 4];
                    const qy = oy + tq * dy - prims[p + 5];
                    const qz = oz + tq * dz - prims[p + 6];
                    // alpha = q · (v × w), beta = q · (w × u) (compile.ts)
                    const alpha = qx * prims[p + 16] + qy * prims[p + 17] + qz * prims[p + 18];
                    const beta = qx * prims[p + 20] + qy * prims[p + 21] + qz * prims[p + 22];
                    if (alpha >= 0 && alpha <= 1 && beta >= 0 && beta <= 1) t = tq;
                  }
                } else {
                  // Möller–Trumbore
                  const e1x = prims[p + 7];
                  const e1y = prims[p + 8];
                  const e1z = prims[p + 9];
                  const e2x = prims[p + 10];
                  const e2y = prims[p + 11];
                  const e2z = prims[p + 12];
                  const pvx = dy * e2z - dz * e2y;
                  const pvy = dz * e2x - dx * e2z;
                  const pvz = dx * e2y - dy * e2x;
                  const det = e1x * pvx + e1y * pvy + e1z * pvz;
                  if (det !== 0) {
                    const inv = 1 / det;
                    const tvx = ox - prims[p + 4];
                    const tvy = oy - prims[p + 5];
                    const tvz = oz - prims[p + 6];
                    const bu = (tvx * pvx + tvy * pvy + tvz * pvz) * inv;
                    const qvx = tvy * e1z - tvz * e1y;
                    const qvy = tvz * e1x - tvx * e1z;
                    const qvz = tvx * e1y - tvy * e1x;
                    const bv = (dx * qvx + dy * qvy + dz * qvz) * inv;
                    if (bu >= 0 && bv >= 0 && bu + bv <= 1) t = (e2x * qvx + e2y * qvy + e2z * qvz) * inv;
                  }
                }
                if (t > 0 && t < hitT) {
                  const pm = prims[p + 1] * 32;
                  if (shadow === 1 && mats[pm + 10] > 0) {
                    // A thin pane on the way to the light passes it, less what it reflects
                    // (Schlick's Fresnel at its normal, as a path through it would choose).
                    let pnx = prims[p + 13];
                    let pny = prims[p + 14];
                    let pnz = prims[p + 15];
                    if (type === 0) {
                      pnx = (ox + t * dx - prims[p + 4]) / prims[p + 7];
                      pny = (oy + t * dy - prims[p + 5]) / prims[p + 7];
                      pnz = (oz + t * dz - prims[p + 6]) / prims[p + 7];
                    } else if (type === 2) {
                      pnx = prims[p + 8] * prims[p + 12] - prims[p + 9] * prims[p + 11];
                      pny = prims[p + 9] * prims[p + 10] - prims[p + 7] * prims[p + 12];
                      pnz = prims[p + 7] * prims[p + 11] - prims[p + 8] * prims[p + 10];
                    }
                    const pc = Math.abs(pnx * dx + pny * dy + pnz * dz) / Math.sqrt(pnx * pnx + pny * pny + pnz * pnz);
                    const pior = mats[pm + 4];
                    const pf0 = ((pior - 1) * (pior - 1)) / ((pior + 1) * (pior + 1));
                    const pfr = pf0 + (1 - pf0) * (1 - pc) * (1 - pc) * (1 - pc) * (1 - pc) * (1 - pc);
                    passR = passR * mats[pm + 1] * (1 - pfr);
                    passG = passG * mats[pm + 2] * (1 - pfr);
                    passB = passB * mats[pm + 3] * (1 - pfr);
                  } else {
                    hitT = t;
                    hitPrim = first + j;
                  }
                }
              }
            }
            node = nodes[nb + 6];
          } else if (tNear <= tFar) {
            node = node + 1;
          } else {
            node = nodes[nb + 6];
          }
        }
        if (spent === 1) break;

        if (shadow === 1) {
          // Nothing between the surface and the light sample: the queued light arrives.
          if (hitPrim < 0) {
            sumR = sumR + pendR * passR;
            sumG = sumG + pendG * passG;
            sumB = sumB + pendB * passB;
          }
          passR = 1;
          passG = 1;
          passB = 1;
          shadow = 0;
          if (alive === 0) break;
          ox = nox;
          oy = noy;
          oz = noz;
          dx = ndx;
          dy = ndy;
          dz = ndz;
          tmax = 1e30;
        } else {
          if (hitPrim < 0) {
            const envLight = cam[33];
            if (envLight < 0) {
              const sky = 0.5 * (dy + 1);
              sumR = sumR + thrR * (cam[22] + (cam[19] - cam[22]) * sky);
              sumG = sumG + thrG * (cam[23] + (cam[20] - cam[23]) * sky);
              sumB = sumB + thrB * (cam[24] + (cam[21] - cam[24]) * sky);
            } else {
              // The HDRI sky's pixel in this direction, turned back by the sky's rotation; u = ½
              // faces +X, v = 0 is straight up.
              const eb = envLight * 20;
              const envW = lights[eb + 4];
              const envH = lights[eb + 5];
              const envX = dx * lights[eb + 6] - dz * lights[eb + 7];
              const envZ = dx * lights[eb + 7] + dz * lights[eb + 6];
              const envU = 0.5 + Math.atan2(envZ, envX) * 0.15915494309189535;
              const envV = Math.acos(Math.min(1, Math.max(-1, dy))) * 0.3183098861837907;
              const envCol = Math.min(envW - 1, Math.max(0, Math.floor(envU * envW)));
              const envRow = Math.min(envH - 1, Math.max(0, Math.floor(envV * envH)));
              const envI = (envRow * envW + envCol) * 3;
              // After a diffuse bounce next-event estimation could have drawn this direction too:
              // the two estimates share it by the power heuristic (multiple importance sampling).
              let envMis = 1;
              if (countAllEmission === 0) {
                let envRowBelow = 0;
                if (envRow > 0) envRowBelow = envCdf[envRow - 1];
                const envCb = envH + envRow * envW;
                let envColBelow = 0;
                if (envCol > 0) envColBelow = envCdf[envCb + envCol - 1];
                const envSin = Math.sqrt(Math.max(0, 1 - dy * dy));
                let envPdf = 1e30;
                if (envSin > 0)
                  envPdf =
                    ((envCdf[envRow] - envRowBelow) * (envCdf[envCb + envCol] - envColBelow) * envW * envH) /
                    (19.739208802178716 * envSin * lightCount);
                envMis = (bouncePdf * bouncePdf) / (bouncePdf * bouncePdf + envPdf * envPdf);
              }
              sumR = sumR + thrR * env[envI] * envMis;
              sumG = sumG + thrG * env[envI + 1] * envMis;
              sumB = sumB + thrB * env[envI + 2] * envMis;
            }
            break;
          }
          const p = hitPrim * 24;
          const type = prims[p];
          const m = prims[p + 1] * 32;
          const mtype = mats[m];
          const textured = (mats[m + 16] >= 0 || mats[m + 21] >= 0 || mats[m + 26] >= 0) && type === 2 ? 1 : 0;
          // Barycentric weights of the hit's triangle corners (smooth normals, textures).
          let bary0 = 0;
          let bary1 = 0;
          let bary2 = 0;
          const hx = ox + hitT * dx;
          const hy = oy + hitT * dy;
          const hz = oz + hitT * dz;
          let nx = 0;
          let ny = 0;
          let nz = 0;
          if (type === 0) {
            nx = (hx - prims[p + 4]) / prims[p + 7];
            ny = (hy - prims[p + 5]) / prims[p + 7];
            nz = (hz - prims[p + 6]) / prims[p + 7];
          } else if (type === 1) {
            nx = prims[p + 13];
            ny = prims[p + 14];
            nz = prims[p + 15];
          } else {
            const e1x = prims[p + 7];
            const e1y = prims[p + 8];
            const e1z = prims[p + 9];
            const e2x = prims[p + 10];
            const e2y = prims[p + 11];
            const e2z = prims[p + 12];
            nx = e1y * e2z - e1z * e2y;
            ny = e1z * e2x - e1x * e2z;
            nz = e1x * e2y - e1y * e2x;
            if (prims[p + 22] > 0 || textured === 1) {
              const wx = hx - prims[p + 4];
              const wy = hy - prims[p + 5];
              const wz = hz - prims[p + 6];
              const d11 = e1x * e1x + e1y * e1y + e1z * e1z;
              const d12 = e1x * e2x + e1y * e2y + e1z * e2z;
              const d22 = e2x * e2x + e2y * e2y + e2z * e2z;
              const dw1 = wx * e1x + wy * e1y + wz * e1z;
              const dw2 = wx * e2x + wy * e2y + wz * e2z;
              const den = d11 * d22 - d12 * d12;
              bary1 = (d22 * dw1 - d12 * dw2) / den;
              bary2 = (d11 * dw2 - d12 * dw1) / den;
              bary0 = 1 - bary1 - bary2;
            }
            if (prims[p + 22] > 0) {
              // The interpolated (smooth) normal.
              const snx = bary0 * prims[p + 13] + bary1 * prims[p + 16] + bary2 * prims[p + 19];
              const sny = bary0 * prims[p + 14] + bary1 * prims[p + 17] + bary2 * prims[p + 20];
              const snz = bary0 * prims[p + 15] + bary1 * prims[p + 18] + bary2 * prims[p + 21];
              // Keep the shading normal on the geometric normal's side.
              if (snx * nx + sny * ny + snz * nz > 0) {
                nx = snx;
                ny = sny;
                nz = snz;
              }
            }
            const nl = 1 / Math.sqrt(nx * nx + ny * ny + nz * nz);
            nx = nx * nl;
            ny = ny * nl;
            nz = nz * nl;
          }
          const cosIn = nx * dx + ny * dy + nz * dz;
          const into = cosIn < 0 ? 1 : 0;
          const flip = into === 1 ? 1 : -1;
          let fx = nx * flip;
          let fy = ny * flip;
          let fz = nz * flip;
          // The textures at the hit (colour, metallic-roughness, normal; material slots from
          // [16], 5 floats each): bilinear between the four nearest texels, each coordinate
          // wrapped by the texture's mode (repeat, clamp, mirror).
          let texR = 1;
          let texG = 1;
          let texB = 1;
          let mrG = 1;
          let mrB = 1;
          let mapX = 0;
          let mapY = 0;
          let mapZ = 1;
          let mapped = 0;
          if (textured === 1) {
            const texUv = hitPrim * 12;
            const texU = Math.min(1e6, Math.max(-1e6, bary0 * uvs[texUv] + bary1 * uvs[texUv + 2] + bary2 * uvs[texUv + 4]));
            const texV = Math.min(1e6, Math.max(-1e6, bary0 * uvs[texUv + 1] + bary1 * uvs[texUv + 3] + bary2 * uvs[texUv + 5]));
            for (let slot = 0; slot < 3; slot++) {
              const ts = m + 16 + slot * 5;
              if (mats[ts] >= 0) {
                const texW = mats[ts + 1];
                const texH = mats[ts + 2];
                const texFx = texU * texW - 0.5;
                const texFy = texV * texH - 0.5;
                const texX0 = Math.floor(texFx);
                const texY0 = Math.floor(texFy);
                const texAx = texFx - texX0;
                const texAy = texFy - texY0;
                let texX1 = 0;
                let texX2 = 0;
                let texY1 = 0;
                let texY2 = 0;
                for (let corner = 0; corner < 4; corner++) {
                  let texQ = texX0;
                  let texSize = texW;
                  let texMode = mats[ts + 3];
                  if (corner === 1) texQ = texX0 + 1;
                  if (corner >= 2) {
                    texQ = texY0;
                    texSize = texH;
                    texMode = mats[ts + 4];
                  }
                  if (corner === 3) texQ = texY0 + 1;
                  if (texMode === 1) {
                    texQ = Math.min(Math.max(texQ, 0), texSize - 1);
                  } else {
                    let texPeriod = texSize;
                    if (texMode === 2) texPeriod = 2 * texSize;
                    texQ = texQ - texPeriod * Math.floor(texQ / texPeriod);
                    // A division that rounded across an integer: one texPeriod back into range.
                    if (texQ < 0) texQ = texQ + texPeriod;
                    if (texQ >= texPeriod) texQ = texQ - texPeriod;
                    if (texQ >= texSize) texQ = texPeriod - 1 - texQ; // mirror's second half
                  }
                  if (corner === 0) texX1 = texQ;
                  if (corner === 1) texX2 = texQ;
                  if (corner === 2) texY1 = texQ;
                  if (corner === 3) texY2 = texQ;
                }
                const texBase = mats[ts];
                const texI11 = texBase + (texY1 * texW + texX1) * 3;
                const texI21 = texBase + (texY1 * texW + texX2) * 3;
                const texI12 = texBase + (texY2 * texW + texX1) * 3;
                const texI22 = texBase + (texY2 * texW + texX2) * 3;
                // Lerps, not four weights: a flat texture gives its value exactly (weights summed
                // in f32 may miss 1 by an ulp), so a factor × a white texel is the factor, bit for bit.
                const texT11 = texels[texI11];
                const texT21 = texels[texI21];
                const texT12 = texels[texI12];
                const texT22 = texels[texI22];
                const texTopR = texT11 + (texT21 - texT11) * texAx;
                const texSr = texTopR + (texT12 + (texT22 - texT12) * texAx - texTopR) * texAy;
                const texG11 = texels[texI11 + 1];
                const texG12 = texels[texI12 + 1];
                const texTopG = texG11 + (texels[texI21 + 1] - texG11) * texAx;
                const texSg = texTopG + (texG12 + (texels[texI22 + 1] - texG12) * texAx - texTopG) * texAy;
                const texB11 = texels[texI11 + 2];
                const texB12 = texels[texI12 + 2];
                const texTopB = texB11 + (texels[texI21 + 2] - texB11) * texAx;
                const texSb = texTopB + (texB12 + (texels[texI22 + 2] - texB12) * texAx - texTopB) * texAy;
                if (slot === 0) {
                  texR = texSr;
                  texG = texSg;
                  texB = texSb;
                }
                if (slot === 1) {
                  mrG = texSg;
                  mrB = texSb;
                }
                if (slot === 2) {
                  mapX = 2 * texSr - 1;
                  mapY = 2 * texSg - 1;
                  mapZ = 2 * texSb - 1;
                  mapped = 1;
                }
              }
            }
          }
          if (mapped === 1) {
            // Normal map: the tangent-space normal in the triangle's frame (+u, and +Y up the
            // image), made orthogonal to the facing normal; kept only if it stays on that side.
            const tanB = hitPrim * 12 + 6;
            const mapScale = mats[m + 9];
            let tanX = uvs[tanB];
            let tanY = uvs[tanB + 1];
            let tanZ = uvs[tanB + 2];
            const tanDot = tanX * fx + tanY * fy + tanZ * fz;
            tanX = tanX - fx * tanDot;
            tanY = tanY - fy * tanDot;
            tanZ = tanZ - fz * tanDot;
            const tanL = Math.sqrt(tanX * tanX + tanY * tanY + tanZ * tanZ);
            if (tanL > 1e-6) {
              tanX = tanX / tanL;
              tanY = tanY / tanL;
              tanZ = tanZ / tanL;
              let bitX = fy * tanZ - fz * tanY;
              let bitY = fz * tanX - fx * tanZ;
              let bitZ = fx * tanY - fy * tanX;
              if (bitX * uvs[tanB + 3] + bitY * uvs[tanB + 4] + bitZ * uvs[tanB + 5] < 0) {
                bitX = -bitX;
                bitY = -bitY;
                bitZ = -bitZ;
              }
              const mapNx = tanX * mapX * mapScale + bitX * mapY * mapScale + fx * mapZ;
              const mapNy = tanY * mapX * mapScale + bitY * mapY * mapScale + fy * mapZ;
              const mapNz = tanZ * mapX * mapScale + bitZ * mapY * mapScale + fz * mapZ;
              const mapL = Math.sqrt(mapNx * mapNx + mapNy * mapNy + mapNz * mapNz);
              if (mapL > 1e-6 && mapNx * fx + mapNy * fy + mapNz * fz > 1e-3 * mapL) {
                fx = mapNx / mapL;
                fy = mapNy / mapL;
                fz = mapNz / mapL;
              }
            }
          }

          // Emission. After a diffuse bounce with NEE, light that NEE could have sampled is
          // already counted; only the unsampled part of an emitter counts here.
          if (mtype === 3) {
            let count = countAllEmission;
            const light = prims[p + 2];
            if (count === 0 && light < 0) count = 1;
            if (count === 0 && light >= 0) {
              const lb = light * 20;
              if (lights[lb] === 0) {
                const along =
                  ((hx - lights[lb + 4]) * lights[lb + 8] +
                    (hy - lights[lb + 5]) * lights[lb + 9] +
                    (hz - lights[lb + 6]) * lights[lb + 10]) /
                  lights[lb + 7];
                if (along < lights[lb + 11]) count = 1;
              }
            }
            if (count === 1) {
              sumR = sumR + thrR * mats[m + 5] * texR;
              sumG = sumG + thrG * mats[m + 6] * texG;
              sumB = sumB + thrB * mats[m + 7] * texB;
            }
            break;
          }
          if (depth >= this.constants.maxBounces) break;
          depth = depth + 1;

          // Offset along the normal by an amount that holds in f32 at the hit's magnitude.
          const eps = 1e-4 * (1 + Math.max(Math.max(Math.abs(hx), Math.abs(hy)), Math.abs(hz)));
          const ar = mats[m + 1] * texR;
          const ag = mats[m + 2] * texG;
          const ab = mats[m + 3] * texB;
          // What the hit scatters as: its type, or for a metallic-roughness material metal with
          // probability metallic, diffuse otherwise. r2 chooses, and is stretched back to a
          // uniform number for the lobe it chose (which uses it too).
          let kind = mtype;
          let rough = mats[m + 4];
          let u2 = r2;
          if (mtype === 4) {
            const metallic = mats[m + 8] * mrB;
            rough = rough * mrG;
            if (r2 < metallic) {
              kind = 1;
              u2 = r2 / metallic;
            } else {
              kind = 0;
              u2 = (r2 - metallic) / (1 - metallic);
            }
          }
          if (kind === 0) {
            // Cosine-weighted direction in an orthonormal basis around the normal (Duff et al.).
            const sg = fz >= 0 ? 1 : -1;
            const qa = -1 / (sg + fz);
            const qb = fx * fy * qa;
            const t1x = 1 + sg * fx * fx * qa;
            const t1y = sg * qb;
            const t1z = -sg * fx;
            const t2x = qb;
            const t2y = sg + fy * fy * qa;
            const t2z = -fy;
            const rr = Math.sqrt(r0);
            const lx = rr * cos1;
            const ly = rr * sin1;
            const lz = Math.sqrt(Math.max(0, 1 - r0));
            bouncePdf = lz * 0.3183098861837907;
            ndx = t1x * lx + t2x * ly + fx * lz;
            ndy = t1y * lx + t2y * ly + fy * lz;
            ndz = t1z * lx + t2z * ly + fz * lz;
            nox = hx + fx * eps;
            noy = hy + fy * eps;
            noz = hz + fz * eps;
            countAllEmission = this.constants.nee === 1 ? 0 : 1;

            if (this.constants.nee === 1 && lightCount > 0) {
              const li = Math.min(Math.floor(u2 * lightCount), lightCount - 1);
              const lb = li * 20;
              const ltype = lights[lb];
              // Direction to the light, the distance a shadow ray may go, and the estimate's weight
              // per unit of the light's intensity (cos at the surface comes last).
              let lx2 = 0;
              let ly2 = 0;
              let lz2 = 0;
              let dist = 1e30;
              let w = 0;
              // The light's colour × intensity (the sky's is its pixel's radiance).
              let lcR = lights[lb + 1];
              let lcG = lights[lb + 2];
              let lcB = lights[lb + 3];
              // The sky's density for the drawn direction, for the MIS weight (0: other lights).
              let lightPdf = 0;
              if (ltype === 5) {
                // HDRI sky (environment.ts): a row by the rows' table, a column by that row's,
                // each by binary search; what is left of r3 and r4 places the point in the pixel.
                const envW = lights[lb + 4];
                const envH = lights[lb + 5];
                let envLo = 0;
                let envHi = envH - 1;
                for (let step = 0; step < this.constants.searchSteps; step++) {
                  if (envLo < envHi) {
                    const envMid = Math.floor((envLo + envHi) * 0.5);
                    if (envCdf[envMid] > r3) envHi = envMid;
                    else envLo = envMid + 1;
                  }
                }
                const envRow = envLo;
                let rowBelow = 0;
                if (envRow > 0) rowBelow = envCdf[envRow - 1];
                const rowP = envCdf[envRow] - rowBelow;
                const cb = envH + envRow * envW;
                envLo = 0;
                envHi = envW - 1;
                for (let step = 0; step < this.constants.searchSteps; step++) {
                  if (envLo < envHi) {
                    const envMid = Math.floor((envLo + envHi) * 0.5);
                    if (envCdf[cb + envMid] > r4) envHi = envMid;
                    else envLo = envMid + 1;
                  }
                }
                const envCol = envLo;
                let colBelow = 0;
                if (envCol > 0) colBelow = envCdf[cb + envCol - 1];
                const colP = envCdf[cb + envCol] - colBelow;
                if (rowP > 0 && colP > 0) {
                  const envFy = Math.min(0.999, Math.max(0, (r3 - rowBelow) / rowP));
                  const envFx = Math.min(0.999, Math.max(0, (r4 - colBelow) / colP));
                  const theta = (Math.PI * (envRow + envFy)) / envH;
                  const phi = 6.283185307179586 * ((envCol + envFx) / envW - 0.5);
                  const sinT = Math.sin(theta);
                  const envLx = sinT * Math.cos(phi);
                  const envLz = sinT * Math.sin(phi);
                  lx2 = envLx * lights[lb + 6] + envLz * lights[lb + 7];
                  ly2 = Math.cos(theta);
                  lz2 = envLz * lights[lb + 6] - envLx * lights[lb + 7];
                  // 1 / (π · p(ω)), p(ω) = rowP · colP · W · H / (2π² sin θ)
                  w = (lightCount * 6.283185307179586 * sinT) / (rowP * colP * envW * envH);
                  lightPdf = (rowP * colP * envW * envH) / (19.739208802178716 * sinT * lightCount);
                  const envI = (envRow * envW + envCol) * 3;
                  lcR = env[envI];
                  lcG = env[envI + 1];
                  lcB = env[envI + 2];
                }
              } else if (ltype === 4) {
                // Directional: irradiance from one direction.
                lx2 = -lights[lb + 8];
                ly2 = -lights[lb + 9];
                lz2 = -lights[lb + 10];
                w = lightCount / Math.PI;
              } else if (ltype >= 2) {
                // Point and spot: radiant intensity falling off with the squared distance.
                const tx = lights[lb + 4] - nox;
                const ty = lights[lb + 5] - noy;
                const tz = lights[lb + 6] - noz;
                const dist2 = tx * tx + ty * ty + tz * tz;
                dist = Math.sqrt(dist2);
                lx2 = tx / dist;
                ly2 = ty / dist;
                lz2 = tz / dist;
                w = lightCount / (Math.PI * dist2);
                if (ltype === 3) {
                  // glTF's smooth cone: full inside the inner angle, squared ramp to the outer.
                  const cd = -(lx2 * lights[lb + 8] + ly2 * lights[lb + 9] + lz2 * lights[lb + 10]);
                  const ramp = Math.min(1, Math.max(0, (cd - lights[lb + 11]) * lights[lb + 12]));
                  w = w * ramp * ramp;
                }
              } else {
                let sx = 0;
                let sy = 0;
                let sz = 0;
                let lnx = 0;
                let lny = 0;
                let lnz = 0;
                if (ltype === 0) {
                  // Uniform point on the sampled spherical cap.
                  const ax2 = lights[lb + 8];
                  const ay2 = lights[lb + 9];
                  const az2 = lights[lb + 10];
                  const cz = 1 - r3 * (1 - lights[lb + 11]);
                  const cr = Math.sqrt(Math.max(0, 1 - cz * cz));
                  const sa = az2 >= 0 ? 1 : -1;
                  const qa2 = -1 / (sa + az2);
                  const qb2 = ax2 * ay2 * qa2;
                  const ux = cr * cos4;
                  const uy = cr * sin4;
                  lnx = (1 + sa * ax2 * ax2 * qa2) * ux + qb2 * uy + ax2 * cz;
                  lny = sa * qb2 * ux + (sa + ay2 * ay2 * qa2) * uy + ay2 * cz;
                  lnz = -sa * ax2 * ux - ay2 * uy + az2 * cz;
                  sx = lights[lb + 4] + lights[lb + 7] * lnx;
                  sy = lights[lb + 5] + lights[lb + 7] * lny;
                  sz = lights[lb + 6] + lights[lb + 7] * lnz;
                } else {
                  sx = lights[lb + 4] + r3 * lights[lb + 7] + r4 * lights[lb + 10];
                  sy = lights[lb + 5] + r3 * lights[lb + 8] + r4 * lights[lb + 11];
                  sz = lights[lb + 6] + r3 * lights[lb + 9] + r4 * lights[lb + 12];
                  lnx = lights[lb + 13];
                  lny = lights[lb + 14];
                  lnz = lights[lb + 15];
                }
                const tx = sx - nox;
                const ty = sy - noy;
                const tz = sz - noz;
                const dist2 = tx * tx + ty * ty + tz * tz;
                dist = Math.sqrt(dist2);
                lx2 = tx / dist;
                ly2 = ty / dist;
                lz2 = tz / dist;
                let cosL = -(lx2 * lnx + ly2 * lny + lz2 * lnz);
                if (ltype === 1) cosL = Math.abs(cosL); // quad lights emit from both faces
                if (cosL > 0) w = (cosL * lights[lb + 16] * lightCount) / (Math.PI * dist2);
              }
              const cosS = lx2 * fx + ly2 * fy + lz2 * fz;
              if (lightPdf > 0) {
                const pb = cosS * 0.3183098861837907;
                w = (w * lightPdf * lightPdf) / (lightPdf * lightPdf + pb * pb);
              }
              if (cosS > 0 && w > 0) {
                pendR = thrR * ar * lcR * cosS * w;
                pendG = thrG * ag * lcG * cosS * w;
                pendB = thrB * ab * lcB * cosS * w;
                shadow = 1;
                ox = nox;
                oy = noy;
                oz = noz;
                dx = lx2;
                dy = ly2;
                dz = lz2;
                tmax = dist * 0.999;
              }
            }
          } else if (kind === 1) {
            // Mirror reflection blurred by roughness × a random point in the unit ball.
            const dn = 2 * (dx * fx + dy * fy + dz * fz);
            const bz = 1 - 2 * r0;
            const br = Math.sqrt(Math.max(0, 1 - bz * bz));
            // The cube root calls out to JavaScript lane by lane on webasm: not for a sharp mirror.
            let bl = 0;
            if (rough > 0) bl = rough * u2 ** (1 / 3);
            ndx = dx - dn * fx + bl * br * cos1;
            ndy = dy - dn * fy + bl * br * sin1;
            ndz = dz - dn * fz + bl * bz;
            if (ndx * fx + ndy * fy + ndz * fz <= 0) alive = 0;
            nox = hx + fx * eps;
            noy = hy + fy * eps;
            noz = hz + fz * eps;
            countAllEmission = 1;
          } else if (mats[m + 10] > 0) {
            // Thin dielectric: Fresnel chooses a mirror reflection or passing straight through.
            // Passing through changes nothing about how the path was sampled, so light sampling
            // and its MIS weights carry on across the pane (shadow rays pass it too).
            const tci = Math.abs(dx * fx + dy * fy + dz * fz);
            const tior = mats[m + 4];
            const tf0 = ((tior - 1) * (tior - 1)) / ((tior + 1) * (tior + 1));
            const tfr = tf0 + (1 - tf0) * (1 - tci) * (1 - tci) * (1 - tci) * (1 - tci) * (1 - tci);
            if (r0 < tfr) {
              ndx = dx + 2 * tci * fx;
              ndy = dy + 2 * tci * fy;
              ndz = dz + 2 * tci * fz;
              nox = hx + fx * eps;
              noy = hy + fy * eps;
              noz = hz + fz * eps;
              countAllEmission = 1;
            } else {
              ndx = dx;
              ndy = dy;
              ndz = dz;
              nox = hx - fx * eps;
              noy = hy - fy * eps;
              noz = hz - fz * eps;
            }
          } else {
            // Dielectric: Fresnel (Schlick) chooses reflection or refraction.
            const ior = mats[m + 4];
            const eta = into === 1 ? 1 / ior : ior;
            const ci = -(dx * fx + dy * fy + dz * fz);
            const k = 1 - eta * eta * (1 - ci * ci);
            let reflect = 1;
            if (k >= 0) {
              const tdx = eta * dx + (eta * ci - Math.sqrt(k)) * fx;
              const tdy = eta * dy + (eta * ci - Math.sqrt(k)) * fy;
              const tdz = eta * dz + (eta * ci - Math.sqrt(k)) * fz;
              const f0 = ((ior - 1) * (ior - 1)) / ((ior + 1) * (ior + 1));
              const c = into === 1 ? 1 - ci : 1 + (tdx * fx + tdy * fy + tdz * fz);
              const fr = f0 + (1 - f0) * c * c * c * c * c;
              if (r0 >= fr) {
                reflect = 0;
                ndx = tdx;
                ndy = tdy;
                ndz = tdz;
                nox = hx - fx * eps;
                noy = hy - fy * eps;
                noz = hz - fz * eps;
              }
            }
            if (reflect === 1) {
              ndx = dx + 2 * ci * fx;
              ndy = dy + 2 * ci * fy;
              ndz = dz + 2 * ci * fz;
              nox = hx + fx * eps;
              noy = hy + fy * eps;
              noz = hz + fz * eps;
            }
            countAllEmission = 1;
          }
          thrR = thrR * ar;
          thrG = thrG * ag;
          thrB = thrB * ab;
          if (depth >= 3) {
            // Russian roulette: go on with probability ~ throughput and reweight the survivors.
            const q = Math.min(0.95, Math.max(Math.max(thrR, thrG), thrB));
            if (r5 >= q) alive = 0;
            thrR = thrR / q;
            thrG = thrG / q;
            thrB = thrB / q;
          }
          // A path that ends after queueing a shadow ray still traces it (see the shadow branch).
          if (alive === 0 && shadow === 0) break;
          const nl2 = 1 / Math.sqrt(ndx * ndx + ndy * ndy + ndz * ndz);
          ndx = ndx * nl2;
          ndy = ndy * nl2;
          ndz = ndz * nl2;
          if (shadow === 0) {
            ox = nox;
            oy = noy;
            oz = noz;
            dx = ndx;
            dy = ndy;
            dz = ndz;
            tmax = 1e30;
          }
        }
      }
    }
    if (spent === 1) break;
  }
  // Rays and work in one exact f32 (render-units.ts workQuantum); -1: stopped over its budget.
  let counts = rays + this.constants.workQuantum * Math.ceil(work / this.constants.workQuantum);
  if (spent === 1) counts = -1;
  return [sumR, sumG, sumB, counts];
}
