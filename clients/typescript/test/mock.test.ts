/** The behaviour suite on MockAvatarRenderer, and what only the mock has. */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import {
  ConflictError,
  EmptyFileError,
  MockAvatarRenderer,
  UnsupportedImageError,
  ValidationError,
  type Job,
  type RenderEvent,
} from "../src/index.js";
import { behaviourSuite, LONG, rejectsWith, SAMPLE_PORTRAIT, SHORT } from "./behaviour.js";

behaviourSuite("MockAvatarRenderer", () => new MockAvatarRenderer(), { faults: true, pollIntervalMs: 0 });

const portrait = (): Uint8Array<ArrayBuffer> => new Uint8Array(readFileSync(SAMPLE_PORTRAIT));

describe("MockAvatarRenderer", () => {
  it("is deterministic: the same calls give the same ids, times and manifests", async () => {
    async function run(): Promise<unknown[]> {
      const mock = new MockAvatarRenderer();
      const character = await mock.registerCharacter(portrait(), "a");
      const job = await mock.renderEmotion(character.id, "happy", 0.5, SHORT);
      const done = await mock.waitFor(job.id);
      return [character, job, done, await mock.getManifest(job.id), await mock.downloadFrame(job.id, 1)];
    }
    assert.deepEqual(await run(), await run());
  });

  it("moves jobs only by hand when autoAdvance is off", async () => {
    const mock = new MockAvatarRenderer({ autoAdvance: false, framesPerStep: 10 });
    const character = await mock.registerCharacter(portrait());
    const job = await mock.renderEmotion(character.id, "sad", 0.5, LONG);
    assert.equal((await mock.getStatus(job.id)).status, "queued");
    assert.equal((await mock.getStatus(job.id)).status, "queued");
    const running = mock.advance(job.id);
    assert.equal(running.status, "running");
    assert.equal(running.attempts, 1);
    const progressed: Job = mock.advance(job.id, 2);
    assert.equal(progressed.progress.frames_done, 20);
    const [done] = mock.settle(job.id);
    assert.equal(done?.status, "succeeded");
    assert.equal(done?.progress.frames_done, 40);
  });

  it("cancels a running job at its next step, as a worker stops between batches", async () => {
    const mock = new MockAvatarRenderer({ autoAdvance: false });
    const character = await mock.registerCharacter(portrait());
    const job = await mock.renderEmotion(character.id, "angry", 0.5, LONG);
    mock.advance(job.id, 2);
    const cancelling = await mock.cancel(job.id);
    assert.equal(cancelling.status, "running");
    assert.equal(cancelling.cancel_requested, true);
    assert.equal(mock.advance(job.id).status, "cancelled");
  });

  it("fails jobs on request (failJob), and they retry", async () => {
    const mock = new MockAvatarRenderer();
    const character = await mock.registerCharacter(portrait());
    const job = await mock.renderEmotion(character.id, "happy", 0.5, SHORT);
    const failed = mock.failJob(job.id, { code: "worker_lost", message: "gone", retryable: true });
    assert.equal(failed.status, "failed");
    assert.equal(failed.error?.code, "worker_lost");
    assert.throws(() => mock.failJob(job.id), ConflictError);
    await mock.retry(job.id);
    const done = await mock.waitFor(job.id);
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 2);
    assert.equal((await mock.getManifest(job.id)).attempt, 2);
  });

  it("writes real PNG frames of the requested size", async () => {
    const mock = new MockAvatarRenderer();
    const character = await mock.registerCharacter(portrait());
    const job = await mock.renderEmotion(character.id, "happy", 1, { ...SHORT, size: 512 });
    await mock.waitFor(job.id);
    const frame = await mock.downloadFrame(job.id, 2);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    assert.equal(String.fromCharCode(...frame.subarray(12, 16)), "IHDR");
    assert.equal(view.getUint32(16), 512);
    assert.equal(view.getUint32(20), 512);
  });

  it("refuses portraits the API refuses", async () => {
    const mock = new MockAvatarRenderer();
    await rejectsWith(mock.registerCharacter(new Uint8Array(0)), EmptyFileError);
    const garbage = await rejectsWith(mock.registerCharacter(new TextEncoder().encode("not an image")), UnsupportedImageError);
    assert.equal(garbage.status, 415);
    await rejectsWith(mock.registerCharacter(portrait(), "x".repeat(201)), ValidationError);
    const fromBlob = await mock.registerCharacter(new Blob([portrait()]), "blob");
    assert.equal(fromBlob.width, 512);
  });

  it("streams the events of moves made by hand: advance, cancel, failJob, retry, settle", async () => {
    const mock = new MockAvatarRenderer({ autoAdvance: false, framesPerStep: 16 });
    const character = await mock.registerCharacter(portrait());
    const job = await mock.renderEmotion(character.id, "sad", 0.5, LONG);
    const stream = await mock.events({ renderId: job.id }).connect();
    const events = stream[Symbol.asyncIterator]();
    const next = async (): Promise<RenderEvent> => {
      const result = await events.next();
      assert.ok(!result.done);
      return result.value;
    };
    const waiting = next(); // nothing moves by itself
    mock.advance(job.id);
    assert.equal((await waiting).type, "render.started");
    mock.failJob(job.id, { code: "worker_lost", message: "gone", retryable: true });
    const failed = await next();
    assert.ok(failed.type === "render.failed" && failed.data.error?.code === "worker_lost");
    await mock.retry(job.id);
    const retried = await next();
    assert.ok(retried.type === "render.retried" && retried.data.manual && retried.data.attempt === 1);
    mock.settle(job.id);
    const rest = [await next(), await next(), await next(), await next(), await next()];
    assert.deepEqual(
      rest.map((event) => event.type),
      ["render.started", "render.progress", "render.progress", "render.progress", "render.succeeded"],
    );
    const frames = rest.flatMap((event) => (event.type === "render.progress" ? event.data.frames : []));
    assert.deepEqual(frames, Array.from({ length: 40 }, (_, i) => i));
    await stream.close();

    const other = await mock.renderEmotion(character.id, "happy", 0.5, LONG);
    const cancelStream = await mock.renderEvents(other.id).connect();
    await mock.cancel(other.id);
    const seen: string[] = [];
    for await (const event of cancelStream) seen.push(event.type);
    assert.deepEqual(seen, ["render.state", "render.cancelled"]);
  });

  it("ends a waiting stream when its signal aborts", async () => {
    const mock = new MockAvatarRenderer();
    const controller = new AbortController();
    const reading = (async () => {
      for await (const event of mock.events({ signal: controller.signal })) assert.fail(event.type);
    })();
    setTimeout(() => controller.abort(), 5);
    await assert.rejects(reading, { name: "AbortError" });
  });
});
