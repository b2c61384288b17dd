/**
 * A requester's webhooks: register a URL (its secret is shown once), list its own, delete one,
 * enable one that failures disabled. Another requester's hook is answered as missing. URLs are
 * refused by the SSRF rule (webhooks/addresses.ts) here already, not only at delivery; as each
 * registration asks DNS, registrations count against the requester's submission rate limit.
 */
import { Router } from 'express';
import { MAX_WEBHOOKS, WebhookId, WebhookRequest } from '../../shared/webhooks.ts';
import type { Principal } from '../state/tokens.ts';
import type { Webhooks } from '../state/webhooks.ts';
import { urlRefusal } from '../webhooks/addresses.ts';
import { consume, type Limits } from './limits.ts';
import { HttpError, param } from './problem.ts';

export interface WebhookRoutesDeps {
  webhooks: Webhooks;
  webhookAllowPrivate: boolean;
  limits: Limits;
}

export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const r = Router();
  const owner = (req: { principal?: Principal }) => (req.principal as Principal).owner;
  r.post('/', async (req, res) => {
    await consume(deps.limits.submission, owner(req), res);
    const { url, events } = WebhookRequest.parse(req.body ?? {});
    const refused = await urlRefusal(new URL(url), deps.webhookAllowPrivate);
    if (refused) {
      req.log?.info({ url, resolved: refused.detail }, 'webhook URL refused');
      throw new HttpError(400, 'Invalid request', `url: ${refused.reason}`, [{ path: 'url', message: refused.reason }]);
    }
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
  r.post('/:id/enable', async (req, res) => {
    const id = param(req, 'id', WebhookId);
    if (!(await deps.webhooks.enable(owner(req), id))) throw new HttpError(404, 'Not found', `no webhook ${id} of yours`);
    res.json({ id, enabled: true });
  });
  return r;
}
