import type { AggregateResult } from './accumulator.js';
import type { WindowOperatorStats } from './fired-window.js';
import { TimerQueue } from './timer-queue.js';
import { SeriesState, type WindowState } from './window-state.js';

/** A window to emit, with its aggregate taken when it fired. */
export interface Emit {
  win: WindowState;
  start: number;
  end: number;
  result: AggregateResult;
  supersedes: number[] | undefined;
}

/**
 * When windows fire, re-fire and leave state (Flink: EventTimeTrigger plus the
 * WindowOperator's cleanup timers). Each window has one live timer: at its end until
 * it fires, then at end + allowedLateness, when it is purged. A late update to a fired
 * window puts it on the re-fire list, emptied by the next advance(). A restored key
 * whose windows are not built yet has one timer of its own, at its earliest window's
 * (restored keys due at the same time share one: with aligned windows, most do).
 */
export class EventTimeTrigger {
  private readonly timers = new TimerQueue<WindowState | SeriesState | SeriesState[]>();
  private refire: WindowState[] = [];

  constructor(
    private readonly lateness: number,
    private readonly stats: WindowOperatorStats,
    /** A window's aggregate as it is emitted (its own accumulator's, or its panes' merged). */
    private readonly resultOf: (win: WindowState) => AggregateResult,
    /**
     * With per-device event time: may this window fire (purge: be purged) now that its timer
     * at `at` is within the scan horizon? When not, the gate keeps the window and hands it
     * back through rearm() once its device moves. Without a gate, the horizon decides.
     */
    private readonly gate?: (win: WindowState, at: number, purge: boolean) => boolean,
  ) {}

  /** Puts a window the gate kept back on its timer again (its device's clock moved). */
  rearm(win: WindowState): void {
    if (!win.purged && !Number.isNaN(win.timerAt)) this.timers.push(win.timerAt, win);
  }

  /** After a window got a reading: pending until end ≤ watermark, else (re-)fired by the next advance(). */
  onUpdate(win: WindowState, wm: number): void {
    if (win.end > wm) {
      win.fired = false; // a session extended past the watermark fires again when it closes
      this.schedule(win, win.end);
    } else if (win.fired) {
      win.dirty = true;
      this.queueRefire(win);
      this.schedule(win, win.end + this.lateness); // a session's end may have moved
    } else {
      this.schedule(win, win.end); // ≤ wm: fires on the next advance()
    }
  }

  /** Re-arms a window read from a snapshot (timers and the re-fire list are not stored: they follow from its flags). */
  onRestore(win: WindowState): void {
    this.schedule(win, win.fired ? win.end + this.lateness : win.end);
    if (win.fired && win.dirty) this.queueRefire(win);
  }

  /** Arms restored keys whose windows are still bytes: at `at`, advance() has them built (which arms their windows). */
  onRestoreLazy(keys: SeriesState | SeriesState[], at: number): void {
    this.timers.push(at, keys);
  }

  private queueRefire(win: WindowState): void {
    if (win.queued) return;
    win.queued = true;
    this.refire.push(win);
  }

  /**
   * Fires, re-fires and purges everything due at watermark `wm`. Returns the emissions
   * ordered by end, then key first-seen order, then start: deterministic, and the same
   * after a restore (which keeps first-seen order).
   */
  advance(wm: number, purge: (win: WindowState) => void, build: (s: SeriesState) => void): Emit[] {
    const out: Emit[] = [];
    for (const win of this.refire) {
      win.queued = false;
      if (!win.purged && win.fired && win.dirty) this.emit(win, out);
    }
    this.refire = [];
    while (this.timers.size > 0 && this.timers.peekTime() <= wm) {
      const at = this.timers.peekTime();
      const item = this.timers.pop();
      if (item instanceof SeriesState) {
        if (item.lazyBytes !== undefined) build(item); // its windows' timers are ≥ at: popped below if due
        continue;
      }
      if (Array.isArray(item)) {
        for (const s of item) if (s.lazyBytes !== undefined) build(s);
        continue;
      }
      const win = item;
      if (win.purged || win.timerAt !== at) continue; // stale: the window moved or went
      if (this.gate !== undefined && !this.gate(win, at, win.fired)) continue; // its device is not there yet
      win.timerAt = NaN;
      if (!win.fired) {
        this.emit(win, out);
        win.fired = true;
        this.schedule(win, win.end + this.lateness); // may be ≤ wm already: popped below
      } else {
        if (win.dirty) this.emit(win, out);
        win.purged = true;
        purge(win);
      }
    }
    return out.sort((a, b) => a.end - b.end || a.win.series.ordinal - b.win.series.ordinal || a.start - b.start);
  }

  private schedule(win: WindowState, at: number): void {
    if (win.timerAt === at) return;
    win.timerAt = at;
    this.timers.push(at, win);
  }

  private emit(win: WindowState, out: Emit[]): void {
    if (win.emitted) this.stats.refired++;
    else this.stats.fired++;
    out.push({ win, start: win.start, end: win.end, result: this.resultOf(win), supersedes: win.supersedes });
    win.emitted = true;
    win.dirty = false;
    win.supersedes = undefined;
  }
}
