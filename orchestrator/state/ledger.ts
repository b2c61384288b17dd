/**
 * The credit ledger's API side: operator grants, stake deposits, unbonding (stake asked back is
 * paid out after a delay and stays slashable until then) and the append-only entries, of which the
 * newest are kept (retention). Escrow, payments, slashing and penalties happen inside the scripts
 * that change the state they pay for. Amounts are µc inside, credits outside.
 */
import { fromMicros } from '../../shared/money.ts';
import { Ids, type LedgerEntry, type LedgerPage } from '../../shared/protocol.ts';
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

/** The hash of an account: the treasury, a worker, or a requester (its token's owner id). */
const accountKey = (account: string) =>
  account === TREASURY ? keys.treasury : Ids.owner.safeParse(account).success ? keys.owner(account) : keys.worker(account);

/** Balance, stake and collateral as a worker has them, escrow as a requester has it (zero where there is none), in credits. */
export interface Account {
  balance: number;
  stake: number;
  locked: number;
  unbonding: number;
  held: number;
  collateral: number;
}

export class Ledger {
  constructor(
    private readonly redis: FarmRedis,
    /** How long stake asked back stays slashable before it is paid out. */
    private readonly unbondingMs: number,
  ) {}

  grant(account: string, micros: number, ref: string): Promise<void> {
    return this.operate('grant', account, micros, ref);
  }

  deposit(worker: string, micros: number): Promise<void> {
    return this.operate('deposit', worker, micros, 'worker');
  }

  /** Asks stake back: it is paid out after the unbonding delay, unless a fault takes it first. */
  unbond(worker: string, micros: number): Promise<void> {
    return this.operate('unbond', worker, micros, 'worker');
  }

  /** Pays out every unbonding that is due; returns how many. */
  async payOutDue(now = Date.now()): Promise<number> {
    const due = await this.redis.zrangebyscore(keys.unbonding, '-inf', now, 'LIMIT', 0, 500);
    for (const worker of due) await this.operate('payout', worker, 0, 'unbonded').catch(() => undefined);
    return due.length;
  }

  async account(account: string): Promise<Account> {
    const values = await this.redis.hmget(accountKey(account), 'balance', 'stake', 'locked', 'unbonding', 'held', 'collateral');
    const [balance, stake, locked, unbonding, held, collateral] = values.map((v) => fromMicros(Number(v ?? 0)));
    return { balance, stake, locked, unbonding, held, collateral };
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
    // Amounts are stored as decimal strings of µc (includes/ledger.lua).
    const entries = rows.reverse().map((e): LedgerEntry => {
      const entry = JSON.parse(e) as Record<keyof LedgerEntry, string | number | undefined>;
      const credits = (v: string | number | undefined) => fromMicros(Number(v ?? 0));
      return {
        ...(entry as LedgerEntry),
        amount: credits(entry.amount),
        balance: credits(entry.balance),
        stake: credits(entry.stake),
        ...(entry.held === undefined ? {} : { held: credits(entry.held) }),
        ...(entry.collateral === undefined ? {} : { collateral: credits(entry.collateral) }),
      };
    });
    return { ...(await this.account(account)), total: kept + Number(dropped ?? 0), kept, offset, entries };
  }

  /** Caps every account's stored entries at the newest `kept`; returns how many were dropped. */
  async trim(kept: number): Promise<number> {
    const trimOne = async (account: string) =>
      Number(await runScript(this.redis, 'ledger-trim', [keys.ledger(account), accountKey(account)], [kept]));
    let dropped = await trimOne(TREASURY);
    for (const index of [keys.workersAll, keys.requestersAll])
      for await (const accounts of sortedSetBatches(this.redis, index)) for (const account of accounts) dropped += await trimOne(account);
    return dropped;
  }

  private async operate(op: string, account: string, micros: number, ref: string): Promise<void> {
    const result = await runScript(this.redis, 'ledger', [accountKey(account)], [op, account, micros, ref, Date.now(), this.unbondingMs]);
    if (result !== 'ok') throw new LedgerError(String(result));
  }
}
