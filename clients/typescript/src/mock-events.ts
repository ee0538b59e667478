/**
 * The mock's event log: the events the API's job store would write for each move of a
 * mock job, with increasing `ms-seq` ids from the fake clock, and the streams that
 * `MockAvatarRenderer.events()` and `renderEvents()` read from it. Like the rest of the
 * mock, time does not pass by itself: with `autoAdvance`, a stream that has handed out
 * everything moves the jobs it follows one step (as each status read does); without
 * it, a stream waits for `advance`, `settle` or `failJob`.
 * @internal
 */

import { ValidationError } from "./errors.js";
import type { EventSource } from "./events.js";
import { sleep } from "./util.js";
import {
  compareEventIds,
  isEventId,
  isTerminal,
  isTerminalEvent,
  type Job,
  type JobError,
  type RenderEvent,
  type RenderEventData,
  type RenderEventType,
} from "./types.js";

type LogType = Exclude<RenderEventType, "render.state">;

export interface MockFollow {
  /** Start after this id (exclusive); the head when undefined. */
  lastEventId: string | undefined;
  matches: (event: RenderEvent) => boolean;
  /** Sent first (a render's state), unless resuming. */
  first?: () => RenderEvent;
  endsAtTerminal: boolean;
  /** Move the followed jobs one step (autoAdvance); false when none can move. */
  advance: () => boolean;
  signal: AbortSignal | undefined;
}

export class MockEventLog {
  private readonly entries: RenderEvent[] = [];
  private lastMs = 0;
  private lastSeq = 0;
  private wake: (() => void)[] = [];

  constructor(private readonly now: () => number) {}

  /** The newest event's id ("0-0" before the first). */
  get head(): string {
    return this.entries.at(-1)?.id ?? "0-0";
  }

  queued(view: Job): void {
    const { priority, metadata } = view.request;
    const data = { priority: priority ?? "interactive", frames_total: view.progress.frames_total ?? 0 };
    this.append("render.queued", view.id, { ...data, metadata: metadata ?? null });
  }

  started(view: Job): void {
    this.append("render.started", view.id, { attempt: view.attempts, worker: view.worker, renderer: view.renderer });
  }

  progress(view: Job, from: number): void {
    const done = view.progress.frames_done ?? 0;
    const frames = Array.from({ length: done - from }, (_, i) => from + i);
    const total = view.progress.frames_total ?? done;
    this.append("render.progress", view.id, { attempt: view.attempts, frames_done: done, frames_total: total, frames });
  }

  succeeded(view: Job): void {
    this.append("render.succeeded", view.id, { attempt: view.attempts, manifest_key: view.manifest_key });
  }

  failed(view: Job, error: JobError): void {
    this.append("render.failed", view.id, { attempt: view.attempts, error: { ...error } });
  }

  cancelled(view: Job): void {
    this.append("render.cancelled", view.id, { attempt: view.attempts });
  }

  retried(view: Job): void {
    this.append("render.retried", view.id, { attempt: view.attempts, manual: true, error: null });
  }

  /** A render's state as its stream opens with it, at the log's head. */
  state(view: Job): RenderEvent {
    const time = view.finished_at ?? view.started_at ?? view.created_at;
    return { id: this.head, type: "render.state", time, render_id: view.id, data: structuredClone(view) };
  }

  /** Whether an event of the render comes after `id`. */
  anyAfter(id: string, renderId: string): boolean {
    return this.entries.some((event) => event.render_id === renderId && compareEventIds(event.id, id) > 0);
  }

  async *follow(options: MockFollow): EventSource {
    const { signal } = options;
    signal?.throwIfAborted();
    const after = options.lastEventId ?? this.head;
    if (!isEventId(after)) {
      throw new ValidationError(`Last-Event-ID: ${JSON.stringify(after)} is not an event id`, { status: 422 });
    }
    // Read at connection time, as the API does: the state and the log's head together.
    const state = options.lastEventId === undefined ? options.first?.() : undefined;
    yield undefined; // connected
    if (state !== undefined) {
      yield state;
      if (options.endsAtTerminal && isTerminalEvent(state)) return;
    }
    let index = this.entries.findIndex((event) => compareEventIds(event.id, after) > 0);
    if (index < 0) index = this.entries.length;
    for (;;) {
      while (index < this.entries.length) {
        const event = this.entries[index++]!;
        if (!options.matches(event)) continue;
        yield structuredClone(event);
        if (options.endsAtTerminal && isTerminalEvent(event)) return;
      }
      if (!options.advance()) await this.nextAppend(signal);
      else await sleep(0, signal); // let other work run between steps
    }
  }

  private append<K extends LogType>(type: K, renderId: string, data: RenderEventData[K]): void {
    const ms = Math.max(this.now(), this.lastMs);
    const seq = ms === this.lastMs ? this.lastSeq + 1 : 0;
    this.lastMs = ms;
    this.lastSeq = seq;
    const time = new Date(ms).toISOString();
    const event = { id: `${ms}-${seq}`, type, time, render_id: renderId, data: structuredClone(data) };
    this.entries.push(event as RenderEvent);
    const waiting = this.wake;
    this.wake = [];
    for (const resolve of waiting) resolve();
  }

  private nextAppend(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.wake.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}

/** Whether a job can still move (for the streams' autoAdvance). */
export function moving(view: Job): boolean {
  return !isTerminal(view.status);
}
