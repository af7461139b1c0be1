/** Turns library progress callbacks into a terminal progress bar (or sparse log lines when not a TTY). */
import type { ProgressCallback, ProgressEvent } from '../../util/progress.js';
import type { CommandIO } from './command.js';

export interface ProgressBar {
  callback: ProgressCallback;
  /** Finish the current bar line. */
  stop(): void;
}

export function progressBar(io: CommandIO): ProgressBar {
  let lastStage = '';
  let lastPrinted = 0;
  let lastPct = -1;
  let open = false;
  const started = new Map<string, number>();
  const render = (e: ProgressEvent) => {
    const now = Date.now();
    if (!started.has(e.stage)) started.set(e.stage, now);
    const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
    const pct = Math.floor(frac * 100);
    const elapsed = (now - started.get(e.stage)!) / 1000;
    const eta = frac > 0 && frac < 1 ? ` eta ${formatSeconds((elapsed / frac) * (1 - frac))}` : '';
    const width = 28;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const text = `${e.stage.padEnd(14)} ${bar} ${String(pct).padStart(3)}% ${e.done}/${e.total}${eta}${e.detail ? '  ' + e.detail : ''}`;
    if (io.interactive) {
      if (e.stage !== lastStage && open) process.stderr.write('\n');
      if (now - lastPrinted > 80 || e.done >= e.total || e.stage !== lastStage) {
        process.stderr.write('\r\x1b[2K' + text);
        lastPrinted = now;
        open = true;
      }
      if (e.done >= e.total && e.total > 0) {
        process.stderr.write('\n');
        open = false;
      }
    } else {
      // Non-interactive: a line at every 10% step or stage change, so CI logs stay short.
      const step = Math.floor(pct / 10);
      if (e.stage !== lastStage || step !== lastPct || (e.done >= e.total && lastPct !== 10)) {
        io.err(text);
        lastPct = e.done >= e.total ? 10 : step;
      }
    }
    lastStage = e.stage;
  };
  return {
    callback: render,
    stop() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}
