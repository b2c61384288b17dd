/**
 * Asks Dawn for a WebGPU adapter in a child process, before `auto` loads Dawn in this one: what it
 * finds decides the backend, and what Dawn writes while looking stays in the child.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const PROBE_TIMEOUT_MS = 30_000;
/** Starts the probe's answer line: anything else on its stdout (a preload's output, say) is not it. */
const PROBE_ANSWER = 'farm-webgpu-probe ';

type ProbeAnswer = { adapter: { software: boolean; name: string } | null } | { noDawn: string };

/**
 * Why `auto` should not load Dawn here, or undefined: a child process asks Dawn for an adapter
 * first. Dawn writes its warnings (a Vulkan loader without a driver, a software adapter's limits)
 * straight to this process's stderr, where a person should read one line; and a software Vulkan
 * (Mesa's lavapipe, SwiftShader) renders slower than webasm. Costs a Node start, once.
 */
export async function noHardwareAdapter(): Promise<string | undefined> {
  const dawn = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  const probe = `let answer;
    try {
      const { create } = await import(${JSON.stringify(dawn)});
      const adapter = await create([]).requestAdapter().catch(() => null);
      answer = { adapter: adapter && { software: adapter.info.isFallbackAdapter === true, name: adapter.info.description || adapter.info.device } };
    } catch (e) {
      answer = { noDawn: String(e?.message ?? e) };
    }
    process.stdout.write('\\n${PROBE_ANSWER}' + JSON.stringify(answer) + '\\n', () => process.exit(0));`;
  let answer: ProbeAnswer | undefined;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], { timeout: PROBE_TIMEOUT_MS });
    const line = stdout.split('\n').find((l) => l.startsWith(PROBE_ANSWER));
    answer = line ? (JSON.parse(line.slice(PROBE_ANSWER.length)) as ProbeAnswer) : undefined;
  } catch (e) {
    const killed = (e as { killed?: boolean }).killed;
    return killed
      ? `Dawn found no adapter within ${PROBE_TIMEOUT_MS / 1000} s (a driver that hangs?)`
      : `the WebGPU probe failed: ${(e as Error).message.split('\n')[0]}`;
  }
  if (!answer) return 'the WebGPU probe gave no answer';
  if ('noDawn' in answer) return `the webgpu package has no Dawn build that loads here (${answer.noDawn})`;
  if (!answer.adapter) return NO_ADAPTER;
  if (answer.adapter.software) return softwareOnly(answer.adapter.name);
  return undefined;
}

export const softwareOnly = (name: string): string =>
  `the only WebGPU adapter is a software one (${name}), slower than webasm; --backend webgpu takes it`;

export const NO_ADAPTER =
  "no WebGPU adapter answered (no GPU, or its Vulkan driver did not load: NVIDIA's needs glvnd, apt-get install libglvnd0 libglx0 libegl1)";
