/**
 * Chooses and opens a gpu.js backend. WebGPU comes from the `webgpu` package (Dawn): gpu.js
 * never loads it and only checks `navigator.gpu`, so we install that global ourselves. Without an
 * adapter we fall back to webasm (WASM SIMD, threads under the async contract), then plain JS.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import gpujs from 'gpu.js';
import { NO_ADAPTER, noHardwareAdapter, softwareOnly } from './adapter-probe.ts';

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
  /** Why `auto` did not get a GPU, and what it renders with instead: one line for a person. */
  fallback?: string;
  close(): void;
}

export class BackendUnavailableError extends Error {
  constructor(backend: BackendName, why: string) {
    super(`backend ${backend} is not available: ${why}`);
    this.name = this.constructor.name;
  }
}

export async function openBackend(choice: BackendChoice): Promise<Backend> {
  let noGpu: string | undefined;
  if (choice === 'webgpu' || choice === 'auto') {
    const webgpu = await openWebGpu(choice === 'auto');
    if (typeof webgpu !== 'string') return webgpu;
    if (choice === 'webgpu') throw new BackendUnavailableError('webgpu', webgpu);
    noGpu = webgpu;
  }
  const backend = choice !== 'cpu' && gpujs.GPU.isWebAssemblySupported ? plain('webasm') : undefined;
  if (!backend && choice === 'webasm') throw new BackendUnavailableError('webasm', 'WebAssembly SIMD is not supported here');
  const chosen = backend ?? plain('cpu');
  const how = chosen.name === 'webasm' ? 'WebAssembly SIMD on the CPU (webasm)' : 'plain JavaScript on the CPU';
  return noGpu ? { ...chosen, fallback: `no GPU: ${noGpu}; rendering with ${how}` } : chosen;
}

/** Where Linux distributions put shared libraries (and LD_LIBRARY_PATH's own). */
const LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
  '/usr/local/lib',
];

/**
 * Dawn reaches a GPU on Linux through the Vulkan loader; without it, it prints a raw warning on
 * every start and finds nothing. Checked first, so a person reads one line saying what to install.
 */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIBRARY_DIRS];
  return !dirs.some((dir) => existsSync(join(dir, 'libvulkan.so.1')));
}

function plain(name: 'webasm' | 'cpu'): Backend {
  const gpu = new gpujs.GPU({ mode: name });
  return { name, gpu, device: name, close: () => gpu.destroy() };
}

/** Storage buffers the path-tracing kernel binds: its 11 inputs (renderer.ts) and its output. */
const KERNEL_STORAGE_BUFFERS = 12;

/**
 * gpu.js asks its device for the spec's default limits, buffer sizes aside, and the spec's default
 * is 8 storage buffers a shader stage: the kernel would not build on any adapter. Every device
 * asked for through this API gets the adapter's own storage-buffer limit (GPUs give 16 or more).
 */
function withKernelLimits(gpuApi: GPU): GPU {
  const requestAdapter = gpuApi.requestAdapter.bind(gpuApi);
  gpuApi.requestAdapter = async (options) => {
    const adapter = await requestAdapter(options);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = (descriptor) =>
      requestDevice({
        ...descriptor,
        requiredLimits: {
          ...descriptor?.requiredLimits,
          maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
        },
      });
    return adapter;
  };
  return gpuApi;
}

/** A WebGPU backend, or why there is none. `hardwareOnly`: refuse a software adapter, and ask a child process first. */
async function openWebGpu(hardwareOnly: boolean): Promise<Backend | string> {
  if (vulkanLoaderMissing())
    return "the Vulkan loader (libvulkan.so.1) is missing: apt-get install libvulkan1 and your GPU vendor's driver";
  const notHere = hardwareOnly ? await noHardwareAdapter() : undefined;
  if (notHere) return notHere;
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch {
    return 'the webgpu package has no Dawn build for this platform';
  }
  const g = globalThis as { navigator?: { gpu?: GPU } };
  Object.assign(globalThis, webgpu.globals);
  const hadNavigator = g.navigator !== undefined;
  const gpuApi = withKernelLimits(webgpu.create([]));
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
    return NO_ADAPTER;
  }
  // The probe and this process could be told of different adapters (a GPU gone between them).
  if (hardwareOnly && adapter.info.isFallbackAdapter) {
    forget();
    return softwareOnly(adapter.info.description || adapter.info.device);
  }
  if (adapter.limits.maxStorageBuffersPerShaderStage < KERNEL_STORAGE_BUFFERS) {
    forget();
    return `the WebGPU adapter binds at most ${adapter.limits.maxStorageBuffersPerShaderStage} storage buffers to a shader; the path tracer needs ${KERNEL_STORAGE_BUFFERS}`;
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
