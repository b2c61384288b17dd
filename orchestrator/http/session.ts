/** Browser sessions: the dashboard trades an API token for the session cookie (auth.ts). */
import { type RequestHandler, Router } from 'express';
import { SessionRequest } from '../../shared/protocol.ts';
import type { Tokens } from '../state/tokens.ts';
import { type AuthGate, sessionCookie } from './auth.ts';
import { readJson } from './bodies.ts';
import { HttpError } from './problem.ts';

const SESSION_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

export function sessionRoutes(tokens: Tokens, requester: RequestHandler, gate: AuthGate): Router {
  const r = Router();

  // The login itself: its small body carries the token, and failures count against the address.
  r.post(
    '/',
    (req, res, next) => next(gate.refuseBlocked(req, res)),
    readJson(4096),
    async (req, res) => {
      const { token } = SessionRequest.parse(req.body ?? {});
      const principal = await tokens.lookup(token);
      if (!principal)
        return gate.fail(
          req,
          res,
          new HttpError(401, 'Unauthorized', 'unknown API token', [{ path: 'token', message: 'unknown API token' }]),
        );
      res.cookie(sessionCookie(req), token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.secure,
        path: '/',
        maxAge: SESSION_MAX_AGE_MS,
      });
      res.json(principal);
    },
  );

  r.get('/', requester, (req, res) => {
    res.json(req.principal);
  });

  r.delete('/', (req, res) => {
    res.clearCookie(sessionCookie(req), { path: '/', secure: req.secure });
    res.status(204).end();
  });

  return r;
}
