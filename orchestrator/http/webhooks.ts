/**
 * A requester's webhooks: register a URL (its secret is shown once), list its own, delete one.
 * Another requester's hook is answered as missing. URLs are refused by the SSRF rule
 * (webhooks/addresses.ts) here already, not only at delivery.
 */
import { Router } from 'express';
import { MAX_WEBHOOKS, WebhookId, WebhookRequest } from '../../shared/webhooks.ts';
import type { Principal } from '../state/tokens.ts';
import type { Webhooks } from '../state/webhooks.ts';
import { urlRefusal } from '../webhooks/addresses.ts';
import { HttpError, param } from './problem.ts';

export interface WebhookRoutesDeps {
  webhooks: Webhooks;
  webhookAllowPrivate: boolean;
}

export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const r = Router();
  const owner = (req: { principal?: Principal }) => (req.principal as Principal).owner;
  r.post('/', async (req, res) => {
    const { url, events } = WebhookRequest.parse(req.body ?? {});
    const refused = await urlRefusal(new URL(url), deps.webhookAllowPrivate);
    if (refused) throw new HttpError(400, 'Invalid request', `url: ${refused}`, [{ path: 'url', message: refused }]);
    const created = await deps.webhooks.add(owner(req), url, events);
    if (!created) throw new HttpError(409, 'Too many webhooks', `at most ${MAX_WEBHOOKS} per requester: delete one first`);
    res.status(201).json(created);
  });
  r.get('/', async (req, res) => {
    res.json({ webhooks: await deps.webhooks.list(owner(req)) });
  });
  r.delete('/:id', async (req, res) => {
    const id = param(req, 'id', WebhookId);
    if (!(await deps.webhooks.remove(owner(req), id))) throw new HttpError(404, 'Not found', `no webhook ${id} of yours`);
    res.json({ id, removed: true });
  });
  return r;
}
