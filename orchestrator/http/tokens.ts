/**
 * Token management for the operator: mint a requester token (shown once), list the tokens by
 * owner id and name (their secrets are not stored), revoke one, its webhooks with it. The
 * operator token itself is FARM_TOKEN's to change, not the API's.
 */
import { Router } from 'express';
import { z } from 'zod';
import { Ids } from '../../shared/protocol.ts';
import type { Tokens } from '../state/tokens.ts';
import type { Webhooks } from '../state/webhooks.ts';
import { readJson } from './bodies.ts';
import { HttpError, param } from './problem.ts';

const MintRequest = z.object({
  // Well-formed: a lone surrogate is JSON no Lua script can read (operator-token.lua skips it).
  name: z
    .string()
    .min(1)
    .max(64)
    .refine((s) => !/\p{Cs}/u.test(s), 'not well-formed Unicode (a lone surrogate)')
    .default('requester'),
});

export function tokenRoutes(tokens: Tokens, webhooks: Pick<Webhooks, 'removeAll'>): Router {
  const r = Router();
  r.post('/', readJson(4096), async (req, res) => {
    const { name } = MintRequest.parse(req.body ?? {});
    const { token, principal } = await tokens.mint(name);
    res.status(201).json({ token, owner: principal.owner, name });
  });
  r.get('/', async (_req, res) => {
    res.json({ tokens: await tokens.list() });
  });
  r.delete('/:owner', async (req, res) => {
    const owner = param(req, 'owner', Ids.owner);
    const outcome = await tokens.revoke(owner);
    if (outcome === 'operator') throw new HttpError(409, 'Conflict', 'the operator token is changed through FARM_TOKEN, not revoked');
    // Its events go nowhere any more. After 'unknown' too: revoking again finishes a revocation its orchestrator died in.
    await webhooks.removeAll(owner);
    if (outcome === 'unknown') throw new HttpError(404, 'Not found', `no token of owner ${owner}`);
    res.json({ owner, revoked: true });
  });
  return r;
}
