/** Runs `stop` once on SIGINT or SIGTERM, then exits; `say` tells the person (or the log) why. */
export function onShutdown(stop: () => Promise<void>, say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: shutting down`);
    stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
