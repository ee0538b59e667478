/**
 * The event-stream part of the behaviour suite, run by `behaviourSuite` on both
 * adapters: one render's events in order from its state to its end, the tenant stream
 * from the moment it connects (filtered, resumed from an id), and the refusals.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";

import {
  compareEventIds,
  isTerminalEvent,
  NotFoundError,
  ValidationError,
  type Character,
  type IAvatarRenderer,
  type RenderEvent,
  type RenderEventStream,
} from "../src/index.js";
import { LONG, SAMPLE_PORTRAIT, SHORT } from "./behaviour.js";

const LIFECYCLE: readonly string[] = ["render.started", "render.progress", "render.succeeded"];

/** The events of `stream` for render `jobId`, up to and including its terminal event. */
export async function untilTerminal(stream: RenderEventStream, jobId: string): Promise<RenderEvent[]> {
  const seen: RenderEvent[] = [];
  for await (const event of stream) {
    if (event.render_id !== jobId) continue;
    seen.push(event);
    if (isTerminalEvent(event)) break;
  }
  return seen;
}

/** Ids strictly increasing, as the log orders them. */
export function assertIncreasing(events: readonly RenderEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(compareEventIds(events[i]!.id, events[i - 1]!.id) > 0, `${events[i]!.id} after ${events[i - 1]!.id}`);
  }
}

export function eventsSuite(name: string, makeClient: () => IAvatarRenderer): void {
  describe(`IAvatarRenderer events: ${name}`, () => {
    let client: IAvatarRenderer;
    let character: Character;

    before(async () => {
      client = makeClient();
      character = await client.registerCharacter(readFileSync(SAMPLE_PORTRAIT), "events");
    });

    it("streams one render's events in order, from its state to its terminal event", async () => {
      const job = await client.renderEmotion(character.id, "surprised", 0.7, LONG);
      const seen: RenderEvent[] = [];
      for await (const event of client.renderEvents(job.id)) seen.push(event); // ends by itself
      const [state, ...rest] = seen;
      assert.ok(state?.type === "render.state", "the state first");
      assert.equal(state.data.id, job.id);
      assert.ok(!isTerminalEvent(state), "a 40-frame render is not done yet");
      assert.ok(rest.every((event) => event.render_id === job.id));
      assertIncreasing(seen);
      const ranks = rest.map((event) => LIFECYCLE.indexOf(event.type));
      assert.ok(ranks.every((rank) => rank >= 0), rest.map((event) => event.type).join(", "));
      assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), "in lifecycle order");
      // The state already covers the queued event (it is written with the job).
      assert.ok(!rest.some((event) => event.type === "render.queued"));
      if (state.data.status === "queued") assert.equal(rest[0]?.type, "render.started");
      const last = rest.at(-1);
      assert.ok(last?.type === "render.succeeded");
      assert.equal(last.data.attempt, 1);
      const done = rest.flatMap((event) => (event.type === "render.progress" ? [event.data.frames_done] : []));
      assert.deepEqual(done, [...done].sort((a, b) => a - b));
      assert.equal(done.at(-1), 40);
      const frames = rest.flatMap((event) => (event.type === "render.progress" ? event.data.frames : []));
      const doneAtState = state.data.progress.frames_done ?? 0;
      assert.deepEqual(frames, Array.from({ length: 40 - doneAtState }, (_, i) => doneAtState + i));

      // After the end: the final state alone; resumed after the terminal event: nothing.
      const late: RenderEvent[] = [];
      for await (const event of client.renderEvents(job.id)) late.push(event);
      assert.equal(late.length, 1);
      assert.ok(late[0]?.type === "render.state" && late[0].data.status === "succeeded");
      for await (const event of client.renderEvents(job.id, { lastEventId: last.id })) {
        assert.fail(`nothing after the end, got ${event.type}`);
      }
    });

    it("streams the tenant's events from when it connects, filtered, and resumes from an id", async () => {
      const stream = await client.events({ types: ["render.queued", "render.succeeded"] }).connect();
      const job = await client.renderEmotion(character.id, "neutral", 0.3, SHORT);
      const filtered = await untilTerminal(stream, job.id);
      assert.deepEqual(
        filtered.map((event) => event.type),
        ["render.queued", "render.succeeded"],
      );
      assert.equal(stream.lastEventId, filtered[1]!.id);
      const queued = filtered[0]!;
      assert.ok(queued.type === "render.queued");
      assert.equal(queued.data.frames_total, 4);
      assert.equal(queued.data.priority, "interactive");

      // Resumed after the queued event: the rest of the render, the queued one not again.
      const rest = await untilTerminal(client.events({ renderId: job.id, lastEventId: queued.id }), job.id);
      assert.equal(rest[0]?.type, "render.started");
      assert.equal(rest.at(-1)?.id, filtered[1]!.id);
      assertIncreasing([queued, ...rest]);
    });

    it("refuses a malformed Last-Event-ID and an unknown render", async () => {
      await assert.rejects(client.events({ lastEventId: "yesterday" }).connect(), ValidationError);
      await assert.rejects(client.renderEvents("0123456789abcdef0123456789abcdef").connect(), NotFoundError);
    });
  });
}
