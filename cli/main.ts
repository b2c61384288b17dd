/** Entry point of the `farm` command line. */
import { Command, Option } from 'commander';
import { MAX_BATCH } from '../shared/protocol.ts';
import { SceneError } from '../shared/scene.ts';
import { WEBHOOK_EVENTS } from '../shared/webhooks.ts';
import { BACKEND_CHOICES } from '../worker/render/backend.ts';

/**
 * A command's module is loaded when the command runs: `farm worker` starts without loading the
 * orchestrator, the renderer's scene import or IPFS (a worker process started in about a third of
 * the time).
 */
function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => unknown>): (...args: A) => Promise<void> {
  return async (...args) => {
    await (await load())(...args);
  };
}

const backendOption = (description: string) =>
  new Option('--backend <name>', description).choices(BACKEND_CHOICES as string[]).default('auto');

const program = new Command('farm').description('An open, distributed GPU render farm').showHelpAfterError();

program
  .command('render')
  .description('render a frame (or a tile of it) locally and write a PNG')
  .argument('<scene>', "scene file: the farm's JSON, .glb or .gltf")
  .option('--frame <n>', 'frame number', '0')
  .option('--tile <x,y,w,h>', 'render only this rectangle')
  .option('--size <WxH>', 'override the scene resolution')
  .option('--spp <n>', 'override samples per pixel')
  .option('--sky <file.hdr>', 'light the scene with this HDRI (Radiance .hdr, equirectangular)')
  .option('--camera <name>', "a glTF file's camera to render through, by its name or its node's (default: the first)")
  .addOption(backendOption('compute backend'))
  .option('--out <file>', 'output PNG (default <scene>-f<frame>.png)')
  .option('--hash', 'print the canonical hash (a CID) as the last line of stdout')
  .action(lazy(async () => (await import('./render.ts')).renderCommand));

program
  .command('orchestrator')
  .description('run the orchestrator: HTTP API, scheduler and verifier')
  .option('--port <n>', 'HTTP port', '8080')
  .option('--host <addr>', 'address to listen on', '127.0.0.1')
  .option('--redis <url>', 'Redis URL (default REDIS_URL or redis://127.0.0.1:6379)')
  .option('--data <dir>', 'blob store directory', '.farm/data')
  .action(lazy(async () => (await import('./orchestrator.ts')).orchestratorCommand));

program
  .command('worker')
  .description('join a farm as a worker and render what it assigns')
  .option('--orchestrator <urls>', 'orchestrator URL, or several of one farm, comma-separated, to fail over between (default FARM_URL)')
  .option('--name <name>', 'display name')
  .addOption(backendOption('compute backend'))
  .option('--key <file>', 'Ed25519 key file, created on first start', '.farm/worker.key')
  .option('--stake <credits>', 'credits to move from balance into stake on start')
  .option('--ask <credits>', 'the least it renders for, in credits per RU: its offer on the market')
  .option('--capacity <n>', `replicas it takes at once, in one poll and one upload (1 to ${MAX_BATCH})`, '1')
  .option('--operator-token <token>', "register as one of the operator's own, trusted workers (default FARM_OPERATOR_TOKEN)")
  .option('--json', 'JSON log lines (pino) instead of the status line; the default when stdout is not a terminal')
  .action(lazy(async () => (await import('./worker.ts')).workerCommand));

program
  .command('submit')
  .description('submit a scene to a farm (FARM_TOKEN authenticates)')
  .argument('<scene>', "scene file: the farm's JSON, .glb or .gltf")
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .option('--frames <range>', 'frames to render, e.g. 0-23 or 1,5,10-12')
  .option('--tile <px>', 'tile size', '64')
  .option('--size <WxH>', 'override the scene resolution')
  .option('--spp <n>', 'override samples per pixel')
  .option('--sky <file.hdr>', 'light the scene with this HDRI (Radiance .hdr, equirectangular)')
  .option('--camera <name>', "a glTF file's camera to render through, by its name or its node's (default: the first)")
  .addOption(new Option('--verification <scheme>', 'how tiles are verified').choices(['credibility', 'quorum']).default('credibility'))
  .option('--epsilon <e>', 'target error rate ε (credibility)', '0.0001')
  .option('--replicas <n>', 'replicas per tile R (quorum)', '2')
  .option('--max-price <credits>', 'the most it pays, in credits per RU (default: a market order)')
  .option('--budget <credits>', 'credits held in escrow for it, the most it spends (default: its estimate at the price)')
  .option('--priority <0-100>', 'which of your jobs at one price goes first; above 50 only the operator may set', '50')
  .option('--estimate', 'only show what it would cost and hold; submit nothing')
  .option('--wait', 'show progress and download the frames when done')
  .option('--out <dir>', 'where --wait puts the frames', 'farm-output')
  .action(lazy(async () => (await import('./submit.ts')).submitCommand));

program
  .command('up')
  .description('start a local farm (Redis, orchestrator, workers) and render the demo scene')
  .option('--workers <n>', 'local worker processes', '2')
  .option(
    '--orchestrators <n>',
    'orchestrators sharing the farm (each its own server and Redis connections), on consecutive ports from --port',
    '1',
  )
  .option('--port <n>', 'orchestrator port', '8080')
  .option('--data <dir>', 'data directory', '.farm')
  .option('--demo <scene>', 'scene to render first', new URL('../scenes/cornell.json', import.meta.url).pathname)
  .option('--frames <range>', 'frames of the demo scene')
  .addOption(backendOption("workers' compute backend"))
  .option('--once', 'stop the farm after the demo')
  .action(lazy(async () => (await import('./up.ts')).upCommand));

program
  .command('reputation')
  .description("show the farm's public worker leaderboard, or one worker's evidence")
  .argument('[worker]', 'worker id')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--sort <field>', 'credibility, valid, invalid, timedOut, passed, faults, lastSeen', 'credibility')
  .option('--limit <n>', 'rows', '50')
  .action(lazy(async () => (await import('./reputation.ts')).reputationCommand));

const jobs = program.command('jobs').description("a requester's jobs");
jobs
  .command('delete')
  .description('delete a job and its data at once, cancelling it first if it still runs (FARM_TOKEN authenticates)')
  .argument('<id>', 'job id')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./jobs.ts')).jobsDelete));
for (const action of ['pause', 'resume'] as const)
  jobs
    .command(action)
    .description(action === 'pause' ? 'hold the tiles not yet handed out (what is out carries on)' : 'hand its tiles out again')
    .argument('<id>', 'job id')
    .requiredOption('--orchestrator <url>', 'orchestrator URL')
    .option('--token <token>', 'API token (default FARM_TOKEN)')
    .action(lazy(async () => (await import('./jobs.ts')).jobsControl(action)));
jobs
  .command('priority')
  .description('which of your jobs at one price goes first: 0 (last) to 100; above 50 only the operator may set')
  .argument('<id>', 'job id')
  .argument('<priority>', '0–100')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./jobs.ts')).jobsPriority));
jobs
  .command('budget')
  .description(
    'raise what you have in a queued or running job (held, or paid out of its escrow); your balance pays the difference into its escrow',
  )
  .argument('<id>', 'job id')
  .argument('<credits>', 'the new total')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./jobs.ts')).jobsBudget));
jobs
  .command('rerun')
  .description('have a trusted worker render a verified tile again (its result replaces the verdict)')
  .argument('<id>', 'job id')
  .option('--frame <n>', 'every tile of this frame that may be re-run')
  .option('--tile <task>', 'one tile, by its task id (the dashboard shows it)')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./jobs.ts')).jobsRerun));

program
  .command('market')
  .description("the farm's spot price, price index and recent candles")
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .addOption(new Option('--interval <period>', 'candle period').choices(['1m', '1h', '1d']).default('1m'))
  .action(lazy(async () => (await import('./market.ts')).marketCommand));

program
  .command('reserve')
  .description('reserve RU in a forward window at a most price, prepaid from your balance (FARM_TOKEN)')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--window <start>', 'the window: next, an ISO time or milliseconds since the epoch', 'next')
  .requiredOption('--ru <ru>', 'render units to reserve')
  .requiredOption('--max-price <credits>', 'the most it pays, in credits per RU')
  .action(lazy(async () => (await import('./forwards.ts')).reserveCommand));

program
  .command('offer')
  .description("offer a worker's RU in a forward window at a least price, locking collateral from its balance")
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--key <file>', "the worker's Ed25519 key file", '.farm/worker.key')
  .option('--window <start>', 'the window: next, an ISO time or milliseconds since the epoch', 'next')
  .requiredOption('--ru <ru>', 'render units to offer')
  .requiredOption('--min-price <credits>', 'the least it renders for, in credits per RU')
  .action(lazy(async () => (await import('./forwards.ts')).offerCommand));

program
  .command('withdraw')
  .description("withdraw a reservation (FARM_TOKEN), or with --key a worker's offer, before its window's gate; what it locked comes back")
  .argument('<order>', 'the order id (o…)')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--key <file>', "the worker's Ed25519 key file, for an offer")
  .action(lazy(async () => (await import('./forwards.ts')).withdrawCommand));

for (const direction of ['stake', 'unstake'] as const)
  program
    .command(direction)
    .description(
      direction === 'stake'
        ? "move credits from a worker's balance into its stake (what lets an untrusted worker take work)"
        : "ask stake back: it is paid to the worker's balance after the farm's unbonding period, and stays slashable until then",
    )
    .argument('<credits>', 'how much')
    .requiredOption('--orchestrator <url>', 'orchestrator URL')
    .option('--key <file>', "the worker's Ed25519 key file", '.farm/worker.key')
    .action(lazy(async () => (await import('./stake.ts')).stakeCommand(direction)));

const tokens = program.command('tokens').description("the operator's requester tokens (FARM_TOKEN is the operator token)");
tokens
  .command('create')
  .description('mint a requester token, shown once')
  .argument('<name>', 'who it is for')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'operator token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./tokens.ts')).tokensCreate));
tokens
  .command('list')
  .description('every token by owner id, name and role (their secrets are not stored)')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'operator token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./tokens.ts')).tokensList));
tokens
  .command('revoke')
  .description('revoke a requester token at once (its jobs and credits stay)')
  .argument('<owner>', 'owner id, from `farm tokens list`')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'operator token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./tokens.ts')).tokensRevoke));

const webhooks = program.command('webhooks').description('URLs that receive signed events about your jobs (FARM_TOKEN)');
webhooks
  .command('add')
  .description('register a URL; prints the secret its deliveries are signed with, once')
  .argument('<url>', 'an http(s) URL on a public address')
  .addOption(new Option('--events <events...>', 'the events it receives (default: all)').choices(WEBHOOK_EVENTS))
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./webhooks.ts')).webhooksAdd));
webhooks
  .command('list')
  .description('your webhooks (their secrets are shown only when added)')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./webhooks.ts')).webhooksList));
webhooks
  .command('remove')
  .description('delete one of your webhooks')
  .argument('<id>', 'webhook id, from `farm webhooks list`')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./webhooks.ts')).webhooksRemove));
webhooks
  .command('enable')
  .description('deliver again to one of your webhooks that failed attempts disabled')
  .argument('<id>', 'webhook id, from `farm webhooks list`')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .option('--token <token>', 'API token (default FARM_TOKEN)')
  .action(lazy(async () => (await import('./webhooks.ts')).webhooksEnable));

const credits = program.command('credits').description('credits: operator grants and balances');
credits
  .command('grant')
  .description('grant credits to a requester, a worker or the treasury (operator; FARM_TOKEN)')
  .argument('<account>', 'a requester\'s owner id (from `farm credits show me`), a worker id, or "treasury"')
  .argument('<amount>', 'credits')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .action(lazy(async () => (await import('./credits.ts')).creditsGrant));
credits
  .command('show')
  .description("an account's balance, stake or escrow, and ledger entries")
  .argument('<account>', 'a worker id, "treasury", or "me": the account of the token in FARM_TOKEN')
  .requiredOption('--orchestrator <url>', 'orchestrator URL')
  .action(lazy(async () => (await import('./credits.ts')).creditsShow));

try {
  await program.parseAsync();
} catch (e) {
  const message = e instanceof SceneError ? `invalid scene: ${e.message}` : (e as Error).message;
  process.stderr.write(`farm: ${message}\n`);
  process.exitCode = 2;
}
