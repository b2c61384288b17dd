/**
 * Credits: until a market exists they enter only through operator grants (to a worker or to the
 * treasury that pays rewards). Amounts on the wire are credits with at most two decimals.
 */
import express, { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { LedgerQuery } from '../../shared/protocol.ts';
import { type Ledger, LedgerError, TREASURY } from '../state/ledger.ts';
import type { Workers } from '../state/workers.ts';
import { requireOperator } from './auth.ts';
import { HttpError } from './problem.ts';

export const Credits = z.number().positive().max(1e9).multipleOf(0.01);
const Grant = z.object({ account: z.string().min(1).max(64), amount: Credits, note: z.string().max(200).default('operator grant') });
export const toCents = (credits: number): number => Math.round(credits * 100);

export function creditRoutes(ledger: Ledger, workers: Workers, requester: RequestHandler): Router {
  const r = Router();

  r.post('/credits', requester, requireOperator, express.json({ limit: 4096 }), async (req, res) => {
    const body = Grant.parse(req.body ?? {});
    if (body.account !== TREASURY && !(await workers.get(body.account))) {
      throw new HttpError(404, 'Not found', `no account ${body.account}`, [{ path: 'account', message: 'unknown worker' }]);
    }
    await ledger.grant(body.account, toCents(body.amount), body.note);
    res.status(201).json({ account: body.account, ...(await ledger.account(body.account)) });
  });

  /** The treasury's balance and its entries, newest first, a page at a time. */
  r.get('/treasury', async (req, res) => {
    const { offset, limit } = LedgerQuery.parse(req.query);
    res.json({ account: TREASURY, ...(await ledger.page(TREASURY, offset, limit)) });
  });

  return r;
}

/** Maps a refused ledger operation to 409. */
export async function ledgerOp(op: () => Promise<void>): Promise<void> {
  try {
    await op();
  } catch (e) {
    if (e instanceof LedgerError) throw new HttpError(409, 'Not enough credits', e.message);
    throw e;
  }
}
