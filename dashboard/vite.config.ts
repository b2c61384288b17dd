/**
 * The dashboard's build: Vite bundles the Preact app (and the shared/ schemas it imports) into
 * static files under dashboard/dist, which the orchestrator serves at `/` — no CDN at run time.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 400 },
  server: {
    // `npm run dev:dashboard` against a running orchestrator (default port 8080).
    proxy: Object.fromEntries(['/api', '/metrics', '/admin'].map((p) => [p, process.env.FARM_URL ?? 'http://127.0.0.1:8080'])),
  },
});
