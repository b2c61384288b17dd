/** `farm tokens create|list|revoke`: the operator's requester tokens (FARM_TOKEN is the operator's). */
import { RequesterClient } from './requester.ts';
import { table } from './table.ts';

interface Flags {
  orchestrator: string;
  token?: string;
}

export async function tokensCreate(name: string, flags: Flags): Promise<void> {
  const minted = (await (await RequesterClient.fromFlags(flags).call('POST', '/api/tokens', { name })).json()) as {
    token: string;
    owner: string;
  };
  console.log(`token for ${name} (owner ${minted.owner}; shown once, only its digest is stored):\n${minted.token}`);
}

export async function tokensList(flags: Flags): Promise<void> {
  const { tokens } = (await (await RequesterClient.fromFlags(flags).call('GET', '/api/tokens')).json()) as {
    tokens: { owner: string; name: string; role: string }[];
  };
  console.log(table(tokens.map(({ owner, name, role }) => ({ owner, name, role }))));
}

export async function tokensRevoke(owner: string, flags: Flags): Promise<void> {
  await RequesterClient.fromFlags(flags).call('DELETE', `/api/tokens/${encodeURIComponent(owner)}`);
  console.log(`token of ${owner} revoked: it is refused from now on; its jobs and credits stay`);
}
