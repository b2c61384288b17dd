/**
 * bull-board at /admin/queues for the operator: the planning, stitching and replica-slot queues
 * as BullMQ sees them. Slot queues per determinism class appear as the dispatcher opens them.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const ADMIN_QUEUES_PATH = '/admin/queues';

export interface QueueBoard {
  router: Router;
  add(queue: Queue): void;
}

export function queueBoard(queues: readonly Queue[]): QueueBoard {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(ADMIN_QUEUES_PATH);
  const board = createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'farm queues' } },
  });
  const shown = new Set(queues.map((q) => q.name));
  return {
    router: adapter.getRouter(),
    add(queue) {
      if (shown.has(queue.name)) return;
      shown.add(queue.name);
      board.addQueue(new BullMQAdapter(queue));
    },
  };
}
