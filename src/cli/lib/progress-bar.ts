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
  let lastKey = '';
  let lastStep = -1;
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
      // Non-interactive (a log file, CI): a line per 10 % step. Stages that count ("epoch 3/30")
      // are one run of work, so a 30-epoch training logs ~10 progress lines, not 11 per epoch.
      const run = overallProgress(e.stage, frac);
      const step = Math.floor(run.frac * 10 + 1e-9);
      // A lower step than the last printed one is a new run of the same stage (a second decode pass).
      if (run.key !== lastKey || step !== lastStep) {
        io.err(text);
        lastStep = step;
      }
      lastKey = run.key;
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

/**
 * A stage named "<name> i/n" is step i of n of one larger run: its key without the counter and the
 * fraction of the whole run done. Other stages are their own run.
 *
 * @example overallProgress('epoch 3/10', 0.5) // { key: 'epoch #/10', frac: 0.25 }
 */
export function overallProgress(stage: string, frac: number): { key: string; frac: number } {
  const m = /^(.*?)(\d+)\/(\d+)(.*)$/.exec(stage);
  if (!m) return { key: stage, frac };
  const i = Number(m[2]);
  const n = Number(m[3]);
  if (!(n >= 1 && i >= 1 && i <= n)) return { key: stage, frac };
  return { key: `${m[1]}#/${n}${m[4]}`, frac: (i - 1 + frac) / n };
}
