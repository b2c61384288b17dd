/**
 * Submit a render: a sample scene or an uploaded scene file — the farm's JSON, or glTF (a .glb,
 * or a .gltf with its files) which the orchestrator imports and names what it left out — the
 * frames, size, tile size, verification settings, price limit and budget, with the number of
 * tasks it will make and, from the orchestrator, what it will cost: its RU, the replicas a tile is
 * expected to take, the price and the escrow it holds. A JSON scene is checked here with the same
 * schema the orchestrator uses, and against the farm's own limits (GET /api/limits), so mistakes
 * show by path before anything is uploaded; samples and imports arrive as manifests of assets the
 * farm already holds, with their summary.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { beyond, type FarmLimits, farmLimitIssues } from '../../../shared/farm-limits.ts';
import { parseFrameRange } from '../../../shared/frames.ts';
import type { FieldIssue } from '../../../shared/problem.ts';
import { type ImportedSceneView, type JobEstimate, type SampleScene, type SceneSummary, summaryOf } from '../../../shared/protocol.ts';
import { maxRaysPerSample, toRu } from '../../../shared/render-units.ts';
import { parseScene, SceneError } from '../../../shared/scene.ts';
import { tileCount } from '../../../shared/tile.ts';
import { ApiError, api } from '../api.ts';
import { credits } from '../format.ts';

interface Chosen {
  label: string;
  raw: unknown;
  summary: SceneSummary;
  /** What an import left out. */
  warnings: string[];
}

interface Settings {
  frames: string;
  width: string;
  height: string;
  spp: string;
  tileSize: string;
  verification: 'credibility' | 'quorum';
  epsilon: string;
  replicas: string;
  maxPrice: string;
  budget: string;
}

const DEFAULTS: Settings = {
  frames: '',
  width: '',
  height: '',
  spp: '',
  tileSize: '64',
  verification: 'credibility',
  epsilon: '0.0001',
  replicas: '2',
  maxPrice: '',
  budget: '',
};

/** Waits this long after the last change before asking the orchestrator for a quote. */
const QUOTE_DELAY_MS = 300;

const num = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s));

/** The job's size before it is submitted, and the most work it can take (render units, an upper bound). */
export function estimate(
  scene: SceneSummary,
  s: Settings,
): { frames: number; tiles: number; tasks: number; maxRu: number } | { error: string } {
  const width = num(s.width) ?? scene.width;
  const height = num(s.height) ?? scene.height;
  const spp = num(s.spp) ?? scene.spp;
  const size = num(s.tileSize) ?? 64;
  if (![width, height, spp, size].every((n) => Number.isInteger(n) && n > 0))
    return { error: 'size, samples and tile size must be whole numbers' };
  try {
    const frames = s.frames.trim() ? parseFrameRange(s.frames, scene.frames).length : scene.frames;
    const tiles = tileCount(width, height, size);
    const maxRays = width * height * frames * spp * maxRaysPerSample(scene.maxBounces);
    return { frames, tiles, tasks: frames * tiles, maxRu: toRu(maxRays) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** A file's bytes as base64, for a JSON body. */
async function base64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function SubmitForm({ onSubmitted }: { onSubmitted: (id: string) => void }) {
  const [samples, setSamples] = useState<SampleScene[]>([]);
  const [chosen, setChosen] = useState<Chosen>();
  const [settings, setSettings] = useState<Settings>(DEFAULTS);
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [limits, setLimits] = useState<FarmLimits>();

  useEffect(() => {
    api<{ scenes: SampleScene[] }>('/api/scenes').then(
      (r) => setSamples(r.scenes),
      (e) => setError(String(e)),
    );
    api<FarmLimits>('/api/limits').then(setLimits, (e) => setError(String(e)));
  }, []);

  /** A scene the orchestrator summarised (a sample, an import), or a JSON scene checked here. */
  const choose = (label: string, raw: unknown, known?: { summary: SceneSummary; warnings?: string[] }) => {
    setIssues([]);
    setError(undefined);
    try {
      let summary = known?.summary;
      if (!summary) {
        const scene = parseScene(raw);
        // Beyond what the form can change (its size, samples and frames the orchestrator's quote checks).
        const over = limits ? farmLimitIssues(scene, limits, { contentOnly: true }) : [];
        if (over.length > 0) throw new SceneError(over);
        summary = summaryOf(scene);
      }
      setChosen({ label, raw, summary, warnings: known?.warnings ?? [] });
    } catch (e) {
      setChosen(undefined);
      if (e instanceof SceneError) setIssues(e.issues.map((i) => ({ ...i, path: `scene.${i.path}` })));
      else setError((e as Error).message);
    }
  };

  const upload = async (list: FileList | null | undefined) => {
    const files = [...(list ?? [])];
    if (files.length === 0) return;
    // The last file's problems are not this one's.
    setIssues([]);
    setError(undefined);
    const gltf = files.find((f) => /\.(glb|gltf)$/i.test(f.name));
    if (!gltf) {
      try {
        choose(files[0].name, JSON.parse(await files[0].text()));
      } catch (e) {
        setChosen(undefined);
        setError(`${files[0].name} is not JSON: ${(e as Error).message}`);
      }
      return;
    }
    const bytes = files.reduce((n, f) => n + f.size, 0);
    if (limits && bytes > limits.maxAssetBytes) {
      setChosen(undefined);
      setError(beyond(`${gltf.name} and its files hold ${bytes} bytes`, limits, 'maxAssetBytes'));
      return;
    }
    setBusy(true);
    try {
      const encoded = await Promise.all(files.map(async (f) => [f.name, await base64(f)] as const));
      const view = await api<ImportedSceneView>('/api/scenes/import', { body: { files: Object.fromEntries(encoded) } });
      choose(view.file, view.scene, { summary: view, warnings: view.warnings });
    } catch (e) {
      setChosen(undefined);
      if (e instanceof ApiError) {
        setError(e.problem.detail ?? e.problem.title);
        setIssues(e.problem.errors ?? []);
      } else setError(String(e));
    } finally {
      setBusy(false);
    }
  };

  const est = useMemo(() => chosen && estimate(chosen.summary, settings), [chosen, settings]);
  const set = (key: keyof Settings) => (e: Event) => setSettings({ ...settings, [key]: (e.currentTarget as HTMLInputElement).value });
  const request = (s: Settings) =>
    chosen && {
      scene: chosen.raw,
      frames: s.frames.trim() || undefined,
      width: num(s.width),
      height: num(s.height),
      spp: num(s.spp),
      tileSize: num(s.tileSize),
      verification: s.verification,
      epsilon: s.verification === 'credibility' ? num(s.epsilon) : undefined,
      replicas: s.verification === 'quorum' ? num(s.replicas) : undefined,
      maxPrice: num(s.maxPrice),
      budget: num(s.budget),
    };

  // The orchestrator's quote for what is on the form, a moment after the last change.
  const [quote, setQuote] = useState<JobEstimate | { error: string }>();
  useEffect(() => {
    const body = est && 'tasks' in est ? request(settings) : undefined;
    if (!body) return setQuote(undefined);
    const timer = setTimeout(() => {
      api<JobEstimate>('/api/jobs/estimate', { body }).then(setQuote, (e) =>
        setQuote({ error: e instanceof ApiError ? (e.problem.errors?.[0]?.message ?? e.message) : String(e) }),
      );
    }, QUOTE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [chosen, settings, est]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const body = request(settings);
    if (!body) return;
    setBusy(true);
    setIssues([]);
    setError(undefined);
    try {
      const job = await api<{ id: string }>('/api/jobs', { body });
      onSubmitted(job.id);
    } catch (err) {
      if (err instanceof ApiError) {
        setError(err.problem.detail ?? err.problem.title);
        setIssues(err.problem.errors ?? []);
      } else setError(String(err));
    } finally {
      setBusy(false);
    }
  };

  const r = chosen?.summary;
  return (
    <form class="card submit" onSubmit={submit}>
      <h2>New render</h2>
      <div class="row">
        <label>
          Sample scene
          <select
            name="sample"
            value={samples.some((x) => x.file === chosen?.label) ? chosen?.label : ''}
            onChange={(e) => {
              const sample = samples.find((x) => x.file === e.currentTarget.value);
              if (sample) choose(sample.file, sample.scene, { summary: sample });
            }}
          >
            <option value="">choose…</option>
            {samples.map((x) => (
              <option key={x.file} value={x.file}>
                {x.name} ({x.width}×{x.height}, {x.frames} frame{x.frames === 1 ? '' : 's'})
              </option>
            ))}
          </select>
        </label>
        <label>
          or upload a scene: JSON, a .glb, or a .gltf with its files
          <input
            name="scene-file"
            type="file"
            multiple
            accept=".json,application/json,.glb,.gltf,.bin,.png,.jpg,.jpeg,.webp"
            onChange={(e) => upload(e.currentTarget.files)}
          />
        </label>
      </div>
      {chosen && r && (
        <p class="muted">
          <strong>{r.name}</strong> from {chosen.label}: {r.width}×{r.height}, {r.spp} spp, {r.frames} frame(s)
        </p>
      )}
      {chosen && chosen.warnings.length > 0 && (
        <ul class="warnings" aria-label="not imported">
          {chosen.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      <div class="row">
        <label>
          Frames
          <input name="frames" placeholder={r ? `all (0-${r.frames - 1})` : 'all'} value={settings.frames} onInput={set('frames')} />
        </label>
        <label>
          Width
          <input name="width" type="number" min={1} placeholder={String(r?.width ?? '')} value={settings.width} onInput={set('width')} />
        </label>
        <label>
          Height
          <input
            name="height"
            type="number"
            min={1}
            placeholder={String(r?.height ?? '')}
            value={settings.height}
            onInput={set('height')}
          />
        </label>
        <label>
          Samples/pixel
          <input name="spp" type="number" min={1} placeholder={String(r?.spp ?? '')} value={settings.spp} onInput={set('spp')} />
        </label>
        <label>
          Tile size
          <input name="tileSize" type="number" min={8} max={512} value={settings.tileSize} onInput={set('tileSize')} />
        </label>
      </div>
      <div class="row">
        <label>
          Verification
          <select name="verification" value={settings.verification} onChange={set('verification')}>
            <option value="credibility">credibility (target error ε)</option>
            <option value="quorum">quorum (R agreeing replicas)</option>
          </select>
        </label>
        {settings.verification === 'credibility' ? (
          <label>
            Target error ε
            <input name="epsilon" type="number" step="any" min={0} max={1} value={settings.epsilon} onInput={set('epsilon')} />
          </label>
        ) : (
          <label>
            Replicas R
            <input name="replicas" type="number" min={1} max={7} value={settings.replicas} onInput={set('replicas')} />
          </label>
        )}
      </div>
      <div class="row">
        <label>
          Most credits per RU
          <input
            name="maxPrice"
            type="number"
            step="0.001"
            min={0}
            placeholder="any: a market order"
            value={settings.maxPrice}
            onInput={set('maxPrice')}
          />
        </label>
        <label>
          Budget (credits)
          <input
            name="budget"
            type="number"
            step="any"
            min={0}
            placeholder="the estimate at the price"
            value={settings.budget}
            onInput={set('budget')}
          />
        </label>
      </div>
      {est && 'tasks' in est && (
        <p class="estimate" data-testid="estimate" data-tasks={est.tasks} data-max-ru={est.maxRu}>
          {est.tasks.toLocaleString()} tasks: {est.frames} frame{est.frames === 1 ? '' : 's'} × {est.tiles} tiles · at most{' '}
          {est.maxRu.toPrecision(3)} RU of work per replica
        </p>
      )}
      {quote && 'hold' in quote && (
        <p class="estimate" data-testid="quote" data-hold={quote.hold} data-redundancy={quote.redundancy}>
          ≈ {quote.redundancy} replica{quote.redundancy === 1 ? '' : 's'} per tile ·{' '}
          {quote.price === null
            ? 'no market price yet'
            : `${quote.price} credits/RU (${quote.basis === 'bid' ? 'your limit' : 'the market'})`}{' '}
          · holds <strong>{credits(quote.hold)}</strong> credits in escrow{quote.basis === 'budget' ? ' (your budget)' : ''}, of your{' '}
          {credits(quote.balance)}; it pays only for the rays its valid replicas trace, and what it does not spend comes back
        </p>
      )}
      {quote && 'error' in quote && <p class="error">{quote.error}</p>}
      {est && 'error' in est && <p class="error">{est.error}</p>}
      {error && <p class="error">{error}</p>}
      {issues.length > 0 && (
        <ul class="issues">
          {issues.map((i) => (
            <li key={i.path}>
              <code>{i.path}</code>: {i.message}
            </li>
          ))}
        </ul>
      )}
      <button type="submit" disabled={!chosen || busy || !est || 'error' in est}>
        {busy ? 'Submitting…' : 'Render'}
      </button>
    </form>
  );
}
