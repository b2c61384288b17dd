/**
 * The web dashboard: Vite's build output (dashboard/dist), served as static files. The page
 * routes with the URL fragment, so `/` is its only entry point.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { HttpError } from './problem.ts';

export function dashboardRoutes(dir: string): Router {
  const r = express.Router();
  if (!existsSync(join(dir, 'index.html'))) {
    r.get('/', () => {
      throw new HttpError(503, 'Dashboard not built', `no ${join(dir, 'index.html')}: run \`npm run build\``);
    });
    return r;
  }
  // Vite fingerprints asset names, so they may be cached for good; index.html must not be.
  r.use('/assets', express.static(join(dir, 'assets'), { immutable: true, maxAge: '1y', fallthrough: false }));
  r.get('/', (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile(join(dir, 'index.html'));
  });
  return r;
}
