/**
 * The credit ledger's API side: operator grants, stake deposits, unbonding (stake asked back is
 * paid out after a delay and stays slashable until then) and the append-only entries, of which the
 * newest are kept (retention). Rewards, slashing and penalties happen inside the verdict scripts.
 */
import type { LedgerEntry, LedgerPage } from '../../shared/protocol.ts';
import { keys } from './keys.ts';
import { runScript } from './lua/scripts.ts';
import { type FarmRedis, sortedSetBatches } from './redis.ts';

export const TREASURY = 'treasury';

export class LedgerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

const accountKey = (account: string) => (account === TREASURY ? keys.treasury : keys.worker(account));

export class Ledger {
  constructor(
    private readonly redis: FarmRedis,
    /** How long stake asked back stays slashable before it is paid out. */
    private readonly unbondingMs: number,
  ) {}

  grant(account: string, cents: number, ref: string): Promise<void> {
    return this.operate('grant', account, cents, ref);
  }

  deposit(worker: string, cents: number): Promise<void> {
    return this.operate('deposit', worker, cents, 'worker');
  }

  /** Asks stake back: it is paid out after the unbonding delay, unless a fault takes it first. */
  unbond(worker: string, cents: number): Promise<void> {
    return this.operate('unbond', worker, cents, 'worker');
  }

  /** Pays out every unbonding that is due; returns how many. */
  async payOutDue(now = Date.now()): Promise<number> {
    const due = await this.redis.zrangebyscore(keys.unbonding, '-inf', now, 'LIMIT', 0, 500);
    for (const worker of due) await this.operate('payout', worker, 0, 'unbonded').catch(() => undefined);
    return due.length;
  }

  /** Balance, stake, locked and unbonding stake, in credits. */
  async account(account: string): Promise<{ balance: number; stake: number; locked: number; unbonding: number }> {
    const values = await this.redis.hmget(accountKey(account), 'balance', 'stake', 'locked', 'unbonding');
    const [balance, stake, locked, unbonding] = values.map((v) => Number(v ?? 0) / 100);
    return { balance, stake, locked, unbonding };
  }

  /**
   * The account's credits and a page of its entries, newest first (`offset` 0 is the newest).
   * One transaction, so the page and the counts agree.
   */
  async page(account: string, offset: number, limit: number): Promise<LedgerPage> {
    const list = keys.ledger(account);
    const [[, kept], [, rows], [, dropped]] = (await this.redis
      .multi()
      .llen(list)
      .lrange(list, -(offset + limit), -(offset + 1))
      .hget(accountKey(account), 'ledgerDropped')
      .exec()) as [[unknown, number], [unknown, string[]], [unknown, string | null]];
    const entries = rows.reverse().map((e) => {
      const entry = JSON.parse(e) as LedgerEntry;
      return { ...entry, amount: entry.amount / 100, balance: entry.balance / 100, stake: entry.stake / 100 };
    });
    return { ...(await this.account(account)), total: kept + Number(dropped ?? 0), kept, offset, entries };
  }

  /** Caps every account's stored entries at the newest `kept`; returns how many were dropped. */
  async trim(kept: number): Promise<number> {
    const trimOne = async (account: string) =>
      Number(await runScript(this.redis, 'ledger-trim', [keys.ledger(account), accountKey(account)], [kept]));
    let dropped = await trimOne(TREASURY);
    for await (const workers of sortedSetBatches(this.redis, keys.workersAll))
      for (const worker of workers) dropped += await trimOne(worker);
    return dropped;
  }

  private async operate(op: string, account: string, cents: number, ref: string): Promise<void> {
    const result = await runScript(this.redis, 'ledger', [accountKey(account)], [op, account, cents, ref, Date.now(), this.unbondingMs]);
    if (result !== 'ok') throw new LedgerError(String(result));
  }
}
