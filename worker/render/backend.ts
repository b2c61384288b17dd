/**
 * Chooses and opens a gpu.js backend. WebGPU comes from the `webgpu` package (Dawn): gpu.js
 * never loads it and only checks `navigator.gpu`, so we install that global ourselves. Without an
 * adapter we fall back to webasm (WASM SIMD, threads under the async contract), then plain JS.
 */
import { setFlagsFromString } from 'node:v8';
import gpujs from 'gpu.js';

// The path-tracing kernel compiles to one WebAssembly function large enough that V8 would give it
// its cheaper "mid-tier" register allocator for huge functions, which spills in the hot BVH loop:
// measured here, 0.50 M samples/s with it and 0.91 M without. V8's flags are process-wide, so
// this holds for gpu.js's worker threads too; it costs a longer compile once per kernel.
setFlagsFromString('--no-turbo-use-mid-tier-regalloc-for-huge-functions');

export type BackendName = 'webgpu' | 'webasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'webasm', 'cpu'];

export interface Backend {
  name: BackendName;
  gpu: InstanceType<typeof gpujs.GPU>;
  /** The backend and, for WebGPU, the adapter: how a worker describes itself (classes are measured). */
  device: string;
  close(): void;
}

export class BackendUnavailableError extends Error {
  constructor(backend: BackendName, why: string) {
    super(`backend ${backend} is not available: ${why}`);
    this.name = this.constructor.name;
  }
}

export async function openBackend(choice: BackendChoice): Promise<Backend> {
  if (choice === 'webgpu' || choice === 'auto') {
    const webgpu = await openWebGpu();
    if (webgpu) return webgpu;
    if (choice === 'webgpu') throw new BackendUnavailableError('webgpu', 'no WebGPU adapter answered');
  }
  if (choice === 'webasm' || choice === 'auto') {
    if (gpujs.GPU.isWebAssemblySupported) return plain('webasm');
    if (choice === 'webasm') throw new BackendUnavailableError('webasm', 'WebAssembly SIMD is not supported here');
  }
  return plain('cpu');
}

function plain(name: 'webasm' | 'cpu'): Backend {
  const gpu = new gpujs.GPU({ mode: name });
  return { name, gpu, device: name, close: () => gpu.destroy() };
}

async function openWebGpu(): Promise<Backend | undefined> {
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch {
    return undefined; // no prebuilt Dawn for this platform
  }
  const g = globalThis as { navigator?: { gpu?: GPU } };
  Object.assign(globalThis, webgpu.globals);
  const hadNavigator = g.navigator !== undefined;
  const gpuApi = webgpu.create([]);
  if (hadNavigator) Object.defineProperty(g.navigator, 'gpu', { value: gpuApi, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuApi }, configurable: true });
  const forget = (): void => {
    // A live Dawn instance keeps Node from exiting.
    if (hadNavigator) Reflect.deleteProperty(g.navigator as object, 'gpu');
    else Reflect.deleteProperty(globalThis, 'navigator');
  };
  const adapter = await gpuApi.requestAdapter().catch(() => null);
  if (!adapter || !(await gpujs.GPU.isWebGPUAvailable())) {
    forget();
    return undefined;
  }
  const info = adapter.info;
  const device = [info.vendor, info.architecture, info.device].filter(Boolean).join('/') || 'unknown';
  const gpu = new gpujs.GPU({ mode: 'webgpu' });
  return {
    name: 'webgpu',
    gpu,
    device: `webgpu:${device}`,
    close: () => {
      gpu.destroy();
      forget();
    },
  };
}
