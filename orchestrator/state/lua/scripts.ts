/**
 * Loads the Lua scripts of this folder, one per file as BullMQ keeps its `commands/`: each opens
 * with a header listing its KEYS and ARGV, may pull in helpers with `-- @include <name>` (from
 * `includes/`, each at most once), and gets the entries of the farm's key table (keys.ts) it uses
 * prepended. Each call says how many of its arguments are keys, so a script may take a batch.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { luaKeyTable } from '../keys.ts';

const DIR = new URL('./', import.meta.url);

function expand(source: string, seen: Set<string>): string {
  return source.replace(/^-- @include (\S+)\s*$/gm, (_, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return expand(readFileSync(new URL(`includes/${name}.lua`, DIR), 'utf8'), seen);
  });
}

function load(file: string): { lua: string } {
  const body = expand(readFileSync(new URL(file, DIR), 'utf8'), new Set());
  return { lua: luaKeyTable(body) + body };
}

/** The scripts, one per file of this folder (checked when they are registered). */
export type Script =
  | 'asset-forget'
  | 'availability'
  | 'backtracked'
  | 'bind'
  | 'close-tasks'
  | 'expire'
  | 'forward-clear'
  | 'forward-idle'
  | 'forward-order'
  | 'forward-settle'
  | 'forward-withdraw'
  | 'frame-done'
  | 'idle-forget'
  | 'job-budget'
  | 'job-cancel'
  | 'job-create'
  | 'job-finish'
  | 'job-pause'
  | 'job-priority'
  | 'job-purge'
  | 'job-start'
  | 'ledger'
  | 'ledger-trim'
  | 'market-record'
  | 'operator-token'
  | 'reclass'
  | 'release'
  | 'renew'
  | 'replica-locate'
  | 'reopen'
  | 'set-class'
  | 'settle'
  | 'spot'
  | 'spot-verdict'
  | 'stock-reserve'
  | 'submit'
  | 'task-close'
  | 'task-create'
  | 'task-snapshot'
  | 'timeouts-take'
  | 'webhook-add'
  | 'webhook-admit'
  | 'webhook-failed';
const SCRIPTS: readonly Script[] = [
  'asset-forget',
  'availability',
  'backtracked',
  'bind',
  'close-tasks',
  'expire',
  'forward-clear',
  'forward-idle',
  'forward-order',
  'forward-settle',
  'forward-withdraw',
  'frame-done',
  'idle-forget',
  'job-budget',
  'job-cancel',
  'job-create',
  'job-finish',
  'job-pause',
  'job-priority',
  'job-purge',
  'job-start',
  'ledger',
  'ledger-trim',
  'market-record',
  'operator-token',
  'reclass',
  'release',
  'renew',
  'replica-locate',
  'reopen',
  'set-class',
  'settle',
  'spot',
  'spot-verdict',
  'stock-reserve',
  'submit',
  'task-close',
  'task-create',
  'task-snapshot',
  'timeouts-take',
  'webhook-add',
  'webhook-admit',
  'webhook-failed',
];

const commandOf = (name: string) => `farm_${name.replace(/-/g, '_')}`;

/** Registers every script on the connection as a command. */
export function defineScripts(redis: Redis): void {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length));
  if (files.sort().join() !== [...SCRIPTS].sort().join()) throw new Error(`Lua scripts ${files} do not match the declared ${SCRIPTS}`);
  for (const name of SCRIPTS) redis.defineCommand(commandOf(name), load(`${name}.lua`));
}

/** Runs script `name` (a file of this folder) with its keys and arguments. */
export function runScript(redis: Redis, name: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[commandOf(name)];
  if (!command) throw new Error(`no Lua script ${name}`);
  return command.call(redis, keys.length, ...keys, ...args);
}
