/** `farm webhooks add|list|remove|enable`: the requester's (FARM_TOKEN's) webhooks. */
import { WebhookCreated, WebhookList } from '../shared/webhooks.ts';
import { RequesterClient } from './requester.ts';
import { table } from './table.ts';

interface Flags {
  orchestrator: string;
  token?: string;
}

export async function webhooksAdd(url: string, flags: Flags & { events?: string[] }): Promise<void> {
  const body = { url, ...(flags.events ? { events: flags.events } : {}) };
  const hook = WebhookCreated.parse(await (await RequesterClient.fromFlags(flags).call('POST', '/api/webhooks', body)).json());
  console.log(`webhook ${hook.id}: ${hook.events.join(', ')} to ${hook.url}`);
  console.log(`secret (shown once; check each delivery's webhook-signature with it):\n${hook.secret}`);
}

export async function webhooksList(flags: Flags): Promise<void> {
  const { webhooks } = WebhookList.parse(await (await RequesterClient.fromFlags(flags).call('GET', '/api/webhooks')).json());
  const rows = webhooks.map((h) => ({
    id: h.id,
    url: h.url,
    events: h.events.join(','),
    created: new Date(h.createdAt).toISOString(),
    disabled: h.disabled ? `since ${new Date(h.disabled.at).toISOString()}: ${h.disabled.reason}` : '',
  }));
  console.log(table(rows));
}

export async function webhooksRemove(id: string, flags: Flags): Promise<void> {
  await RequesterClient.fromFlags(flags).call('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
  console.log(`webhook ${id} removed: nothing more is sent to it`);
}

export async function webhooksEnable(id: string, flags: Flags): Promise<void> {
  await RequesterClient.fromFlags(flags).call('POST', `/api/webhooks/${encodeURIComponent(id)}/enable`);
  console.log(`webhook ${id} enabled: its next events are delivered again`);
}
