/**
 * The credit ledger's API side: operator grants, stake deposits and withdrawals, and the
 * append-only entries. Rewards, slashing and penalties happen inside the verdict scripts.
 */

import type { FarmRedis } from './redis.ts';
import { LEDGER_LUA } from './scripts.ts';

export const TREASURY = 'treasury';

export interface LedgerEntry {
  at: number;
  kind: string;
  amount: number;
  balance: number;
  stake: number;
  ref: string;
}

/**
 * KEYS: worker hash (or the treasury hash); ARGV: op, account, amount, ref, now
 * Returns 'ok' or why not.
 */
const OPERATE = `${LEDGER_LUA}
local op, account, amount, ref, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if account ~= 'treasury' and redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown account' end
if op == 'grant' then
  adjust(account, 'balance', amount, 'grant', ref, now)
elseif op == 'deposit' then
  if available(account, 'balance') < amount then return 'balance too low' end
  adjust(account, 'balance', -amount, 'deposit', ref, now)
  adjust(account, 'stake', amount, 'deposit', ref, now)
elseif op == 'withdraw' then
  if available(account, 'stake') < amount then return 'stake too low' end
  if tonumber(redis.call('HGET', KEYS[1], 'inFlight') or '0') > 0 then return 'replicas in flight' end
  adjust(account, 'stake', -amount, 'withdraw', ref, now)
  adjust(account, 'balance', amount, 'withdraw', ref, now)
end
return 'ok'
`;

export class LedgerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

export class Ledger {
  constructor(private readonly redis: FarmRedis) {}

  grant(account: string, cents: number, ref: string): Promise<void> {
    return this.operate('grant', account, cents, ref);
  }

  deposit(worker: string, cents: number): Promise<void> {
    return this.operate('deposit', worker, cents, 'worker');
  }

  withdraw(worker: string, cents: number): Promise<void> {
    return this.operate('withdraw', worker, cents, 'worker');
  }

  /** Balance and stake in credits. */
  async account(account: string): Promise<{ balance: number; stake: number }> {
    const [balance, stake] = await this.redis.hmget(account === TREASURY ? 'farm:treasury' : `farm:worker:${account}`, 'balance', 'stake');
    return { balance: Number(balance ?? 0) / 100, stake: Number(stake ?? 0) / 100 };
  }

  /** Entries oldest first, amounts in credits. */
  async entries(account: string, offset = 0, limit = 100): Promise<LedgerEntry[]> {
    return (await this.redis.lrange(`farm:ledger:${account}`, offset, offset + limit - 1)).map((e) => {
      const entry = JSON.parse(e) as LedgerEntry;
      return { ...entry, amount: entry.amount / 100, balance: entry.balance / 100, stake: entry.stake / 100 };
    });
  }

  private async operate(op: string, account: string, cents: number, ref: string): Promise<void> {
    const key = account === TREASURY ? 'farm:treasury' : `farm:worker:${account}`;
    const result = await this.redis.eval(OPERATE, 1, key, op, account, cents, ref, Date.now());
    if (result !== 'ok') throw new LedgerError(String(result));
  }
}
