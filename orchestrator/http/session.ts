/** Browser sessions: the dashboard trades an API token for the session cookie (auth.ts). */
import { type RequestHandler, Router } from 'express';
import { SessionRequest } from '../../shared/protocol.ts';
import type { Tokens } from '../state/tokens.ts';
import { SESSION_COOKIE } from './auth.ts';
import { HttpError } from './problem.ts';

const SESSION_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

export function sessionRoutes(tokens: Tokens, requester: RequestHandler): Router {
  const r = Router();

  r.post('/', async (req, res) => {
    const { token } = SessionRequest.parse(req.body ?? {});
    const principal = await tokens.lookup(token);
    if (!principal) throw new HttpError(401, 'Unauthorized', 'unknown API token', [{ path: 'token', message: 'unknown API token' }]);
    res.cookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/',
      maxAge: SESSION_MAX_AGE_MS,
    });
    res.json(principal);
  });

  r.get('/', requester, (req, res) => {
    res.json(req.principal);
  });

  r.delete('/', (_req, res) => {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.status(204).end();
  });

  return r;
}
