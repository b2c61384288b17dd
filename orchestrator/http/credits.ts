/**
 * Credits: they enter only through operator grants (to a requester, a worker or the treasury);
 * requesters spend them on jobs (escrow), workers earn them for valid replicas. Amounts on the
 * wire are credits with at most six decimals (shared/money.ts).
 */
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { Credits, toMicros } from '../../shared/money.ts';
import { Ids, LedgerQuery } from '../../shared/protocol.ts';
import { keys } from '../state/keys.ts';
import { type Ledger, LedgerError, TREASURY } from '../state/ledger.ts';
import type { FarmRedis } from '../state/redis.ts';
import { requireOperator } from './auth.ts';
import { readJson } from './bodies.ts';
import { HttpError } from './problem.ts';

const Account = z.union([z.literal(TREASURY), Ids.worker, Ids.owner], {
  error: 'a worker id, a requester owner id (from its token), or "treasury"',
});
const Grant = z.object({ account: Account, amount: Credits, note: z.string().max(200).default('operator grant') });

export function creditRoutes(ledger: Ledger, redis: FarmRedis, requester: RequestHandler): Router {
  const r = Router();

  r.post('/credits', requester, requireOperator, readJson(4096), async (req, res) => {
    const body = Grant.parse(req.body ?? {});
    const key =
      body.account === TREASURY
        ? undefined
        : Ids.owner.safeParse(body.account).success
          ? keys.owner(body.account)
          : keys.worker(body.account);
    if (key && !(await redis.exists(key))) {
      throw new HttpError(404, 'Not found', `no account ${body.account}`, [{ path: 'account', message: 'no such worker or requester' }]);
    }
    await ledger.grant(body.account, toMicros(body.amount), body.note);
    res.status(201).json({ account: body.account, ...(await ledger.account(body.account)) });
  });

  /**
   * The treasury's balance and its entries, newest first, a page at a time: the operator's only.
   * Its outflows are spot checks and arbiters' renders; a worker that saw them would know which
   * of its replicas were checks.
   */
  r.get('/treasury', requester, requireOperator, async (req, res) => {
    const { offset, limit } = LedgerQuery.parse(req.query);
    res.json({ account: TREASURY, ...(await ledger.page(TREASURY, offset, limit)) });
  });

  /** The caller's own account: its balance, what its jobs hold in escrow, and its entries. */
  r.get('/account', requester, async (req, res) => {
    const { offset, limit } = LedgerQuery.parse(req.query);
    const owner = req.principal?.owner as string;
    res.json({ account: owner, ...(await ledger.page(owner, offset, limit)) });
  });

  return r;
}

/**
 * Maps a refused ledger operation (of a body's `amount`) to its problem: 402 where the balance is
 * short (as a job, a budget or a reservation says it), else 409 (stake that is not free).
 */
export async function ledgerOp(op: () => Promise<void>): Promise<void> {
  try {
    await op();
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e;
    const short = e.message === 'balance too low';
    throw new HttpError(short ? 402 : 409, short ? 'Not enough credits' : 'Refused', e.message, [{ path: 'amount', message: e.message }]);
  }
}
