import { percent } from '../format.ts';

export function ProgressBar({ done, total, label }: { done: number; total: number; label?: string }) {
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={done} title={`${done} / ${total}`}>
      <div class="fill" style={{ width: `${percent(done, total)}%` }} />
      {label && <span>{label}</span>}
    </div>
  );
}
