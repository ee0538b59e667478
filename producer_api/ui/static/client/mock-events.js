import { ValidationError } from "./errors.js";
import { sleep } from "./util.js";
import { compareEventIds, isEventId, isTerminal, isTerminalEvent, } from "./types.js";
export class MockEventLog {
    now;
    entries = [];
    lastMs = 0;
    lastSeq = 0;
    wake = [];
    constructor(now) {
        this.now = now;
    }
    get head() {
        return this.entries.at(-1)?.id ?? "0-0";
    }
    queued(view) {
        const { priority, metadata } = view.request;
        const data = { priority: priority ?? "interactive", frames_total: view.progress.frames_total ?? 0 };
        this.append("render.queued", view.id, { ...data, metadata: metadata ?? null });
    }
    started(view) {
        this.append("render.started", view.id, { attempt: view.attempts, worker: view.worker, renderer: view.renderer });
    }
    progress(view, from) {
        const done = view.progress.frames_done ?? 0;
        const frames = Array.from({ length: done - from }, (_, i) => from + i);
        const total = view.progress.frames_total ?? done;
        this.append("render.progress", view.id, { attempt: view.attempts, frames_done: done, frames_total: total, frames });
    }
    succeeded(view) {
        this.append("render.succeeded", view.id, { attempt: view.attempts, manifest_key: view.manifest_key });
    }
    failed(view, error) {
        this.append("render.failed", view.id, { attempt: view.attempts, error: { ...error } });
    }
    cancelled(view) {
        this.append("render.cancelled", view.id, { attempt: view.attempts });
    }
    retried(view) {
        this.append("render.retried", view.id, { attempt: view.attempts, manual: true, error: null });
    }
    state(view) {
        const time = view.finished_at ?? view.started_at ?? view.created_at;
        return { id: this.head, type: "render.state", time, render_id: view.id, data: structuredClone(view) };
    }
    anyAfter(id, renderId) {
        return this.entries.some((event) => event.render_id === renderId && compareEventIds(event.id, id) > 0);
    }
    async *follow(options) {
        const { signal } = options;
        signal?.throwIfAborted();
        const after = options.lastEventId ?? this.head;
        if (!isEventId(after)) {
            throw new ValidationError(`Last-Event-ID: ${JSON.stringify(after)} is not an event id`, { status: 422 });
        }
        const state = options.lastEventId === undefined ? options.first?.() : undefined;
        yield undefined;
        if (state !== undefined) {
            yield state;
            if (options.endsAtTerminal && isTerminalEvent(state))
                return;
        }
        let index = this.entries.findIndex((event) => compareEventIds(event.id, after) > 0);
        if (index < 0)
            index = this.entries.length;
        for (;;) {
            while (index < this.entries.length) {
                const event = this.entries[index++];
                if (!options.matches(event))
                    continue;
                yield structuredClone(event);
                if (options.endsAtTerminal && isTerminalEvent(event))
                    return;
            }
            if (!options.advance())
                await this.nextAppend(signal);
            else
                await sleep(0, signal);
        }
    }
    append(type, renderId, data) {
        const ms = Math.max(this.now(), this.lastMs);
        const seq = ms === this.lastMs ? this.lastSeq + 1 : 0;
        this.lastMs = ms;
        this.lastSeq = seq;
        const time = new Date(ms).toISOString();
        const event = { id: `${ms}-${seq}`, type, time, render_id: renderId, data: structuredClone(data) };
        this.entries.push(event);
        const waiting = this.wake;
        this.wake = [];
        for (const resolve of waiting)
            resolve();
    }
    nextAppend(signal) {
        return new Promise((resolve, reject) => {
            const onAbort = () => reject(signal?.reason);
            signal?.addEventListener("abort", onAbort, { once: true });
            this.wake.push(() => {
                signal?.removeEventListener("abort", onAbort);
                resolve();
            });
        });
    }
}
export function moving(view) {
    return !isTerminal(view.status);
}
