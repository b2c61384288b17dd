/**
 * The forward windows' duty, run beside the spot clearing: each window whose gate has passed is
 * cleared by the spot market's auction on its orders, and each window that has ended is settled
 * once its replicas out have answered (or a task timeout after its end). The scripts apply each
 * step once, whichever orchestrator gets there first; a crash before a script leaves no trace.
 */
import type { Logger } from 'pino';
import type { Forwards, WindowRecord } from '../state/forwards.ts';
import { clear } from './clearing.ts';
import { type ForwardSettings, settleWindow } from './forwards.ts';

export interface ForwardDutyDeps {
  forwards: Forwards;
  settings: ForwardSettings;
  /** Collateral share in parts per million, as the clearing script takes it. */
  collateralPpm: number;
  /** After a window ends, how long its replicas out may keep it from settling. */
  taskTimeoutMs: number;
  log: Logger;
}

export async function runForwardDuty(deps: ForwardDutyDeps, now = Date.now()): Promise<void> {
  for (const w of await deps.forwards.windows(0)) {
    // One window's failure holds up no other.
    await dutyOf(deps, w, now).catch((err) =>
      deps.log.warn({ window: w.start, err: (err as Error).message }, 'forward window duty failed'),
    );
  }
}

async function dutyOf(deps: ForwardDutyDeps, w: WindowRecord, now: number): Promise<void> {
  const { forwards, settings, log } = deps;
  {
    const end = w.start + settings.windowMs;
    if (w.state === 'open' && now >= w.start - settings.gateMs) {
      const { bids, asks } = await forwards.book(w.start);
      const c = clear(bids, asks);
      const fills = new Map([...c.bids, ...c.asks]);
      if (await forwards.applyClearing(w.start, c.price, c.volume, fills, deps.collateralPpm, now))
        log.info({ window: w.start, price: c.price, volume: c.volume, bids: bids.length, asks: asks.length }, 'forward window cleared');
    } else if (w.state === 'cleared' && now >= end) {
      const { obligations, entitlements, replicasOut } = await forwards.ledgerOf(w.start, settings.windowMs);
      if (replicasOut && now < end + deps.taskTimeoutMs) return;
      const settlement = settleWindow(obligations, entitlements);
      if (await forwards.applySettlement(w.start, settlement, now))
        log.info({ window: w.start, forfeited: settlement.providers.reduce((s, p) => s + p.forfeit, 0) }, 'forward window settled');
    }
  }
}
