/** A progress bar on stderr when it is a terminal; silent otherwise (CI logs, pipes). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number, extra?: string): void;
  stop(): void;
}

/** The bar's line. cli-progress prints an ETA it cannot estimate yet as "NFs": this says so in words. */
export function progressLine(label: string): cliProgress.GenericFormatter {
  return (options, params, payload) => {
    const eta = Number.isFinite(params.eta) ? cliProgress.Format.TimeFormat(params.eta, options, 5) : 'estimating';
    const percent = Math.floor(params.progress * 100);
    return `${label} [${cliProgress.Format.BarFormat(params.progress, options)}] ${percent}% | ${params.value}/${params.total} ${payload.extra} | ETA ${eta}`;
  };
}

export function progressBar(label: string): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, hideCursor: true, format: progressLine(label) },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, extra = '') {
      if (!started) {
        bar.start(total, done, { extra });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { extra });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
