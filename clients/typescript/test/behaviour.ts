/**
 * One behaviour suite for every IAvatarRenderer: it runs against HttpAvatarRenderer on
 * a real stack and against MockAvatarRenderer, so the mock cannot drift from the API.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";

import {
  CharacterNotFoundError,
  ConflictError,
  DrivingVideoNotFoundError,
  EMOTIONS,
  IdempotencyKeyReusedError,
  IntegrityError,
  NotFoundError,
  NotReadyError,
  ValidationError,
  WaitTimeoutError,
  isTerminal,
  sha256Hex,
  type Character,
  type IAvatarRenderer,
  type Job,
  type Metadata,
  type RenderParams,
  type RenderRequest,
} from "../src/index.js";
import { eventsSuite } from "./behaviour-events.js";

export const SAMPLE_PORTRAIT = new URL("../../../../render_cli/assets/astronaut.png", import.meta.url);
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Short clips: 4 frames of 256 px. */
export const SHORT: RenderParams = { duration_ms: 400, fps: 10, size: 256 };
/** Long enough (40 frames) to cancel or abort before it ends on a slowed mock worker. */
export const LONG: RenderParams = { duration_ms: 4000, fps: 10, size: 256, outputs: ["frames"] };

/** Flat metadata with `count` numeric entries (k0, k1, …). */
export function keys(count: number): Metadata {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
}

export interface SuiteOptions {
  /** The stack fails jobs that ask for metadata.mock_fault = "permanent". */
  faults: boolean;
  /** waitFor's poll interval in these tests. */
  pollIntervalMs: number;
}

/** Expect `promise` to reject with an instance of `cls`; return the error. */
export async function rejectsWith<E extends Error>(
  promise: Promise<unknown>,
  cls: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${cls.name}, but the call succeeded`);
}

export function behaviourSuite(
  name: string,
  makeClient: () => IAvatarRenderer,
  options: SuiteOptions,
): void {
  describe(`IAvatarRenderer behaviour: ${name}`, () => {
    let client: IAvatarRenderer;
    let character: Character;
    const wait = (id: string, extra: Parameters<IAvatarRenderer["waitFor"]>[1] = {}): Promise<Job> =>
      client.waitFor(id, { pollIntervalMs: options.pollIntervalMs, timeoutMs: 60_000, ...extra });

    before(async () => {
      client = makeClient();
      character = await client.registerCharacter(readFileSync(SAMPLE_PORTRAIT), "astronaut");
    });

    it("registers a character and finds its face", () => {
      assert.match(character.id, /^[0-9a-f]{32}$/);
      assert.equal(character.name, "astronaut");
      assert.equal(character.width, 512);
      assert.equal(character.height, 512);
      assert.ok(character.face, "a face box");
      assert.ok(character.face.box.right > character.face.box.left);
      assert.ok(character.face.box.bottom > character.face.box.top);
    });

    it("lists the tenant's characters newest first, a page at a time", async () => {
      const second = await client.registerCharacter(readFileSync(SAMPLE_PORTRAIT), "second");
      const first = await client.listCharacters({ limit: 1 });
      assert.deepEqual(
        first.characters.map((c) => c.id),
        [second.id],
      );
      assert.ok(first.next_cursor, "a cursor to the next page");
      const next = await client.listCharacters({ limit: 1, cursor: first.next_cursor });
      assert.deepEqual(
        next.characters.map((c) => c.id),
        [character.id],
      );
      await rejectsWith(client.listCharacters({ limit: 0 }), ValidationError);
    });

    it("renders an emotion, reporting progress until it succeeds", async () => {
      const job = await client.renderEmotion(character.id, "happy", 0.8, SHORT);
      assert.equal(job.status, "queued");
      assert.equal(job.request.emotion, "happy");
      assert.equal(job.request.intensity, 0.8);
      assert.equal(job.request.character_id, character.id);
      assert.equal(job.progress.frames_total, 4);
      assert.deepEqual(job.request, {
        character_id: character.id,
        emotion: "happy",
        driving_video_id: null,
        controls: null,
        intensity: 0.8,
        duration_ms: 400,
        fps: 10,
        size: 256,
        outputs: ["frames", "mp4"],
        frame_format: "png",
        quality: null,
        priority: "interactive",
        cache: true,
        metadata: null,
      });

      const seen: Job[] = [];
      const done = await wait(job.id, { onProgress: (update) => seen.push(update) });
      assert.equal(done.status, "succeeded");
      assert.equal(done.attempts, 1);
      assert.equal(done.progress.frames_done, 4);
      assert.ok(done.manifest_key);
      assert.ok(done.renderer && done.renderer.name === "mock");
      assert.ok(seen.length >= 1);
      assert.deepEqual(seen.at(-1), done);
      const order = ["queued", "running", "succeeded"];
      for (let i = 1; i < seen.length; i++) {
        const [a, b] = [seen[i - 1]!, seen[i]!];
        assert.ok(order.indexOf(a.status) <= order.indexOf(b.status), "status moves forward");
        assert.ok((a.progress.frames_done ?? 0) <= (b.progress.frames_done ?? 0) || a.status !== b.status);
      }
      assert.deepEqual(await client.getStatus(job.id), done);
    });

    it("serves the manifest; frames and the clip download and verify against it", async () => {
      const job = await wait((await client.renderEmotion(character.id, "sad", 0.5, SHORT)).id);
      const manifest = await client.getManifest(job.id);
      assert.equal(manifest.job_id, job.id);
      assert.equal(manifest.attempt, 1);
      assert.equal(manifest.frame_count, 4);
      assert.equal(manifest.fps, 10);
      assert.equal(manifest.width, 256);
      assert.equal(manifest.frame_format, "png");
      assert.equal(manifest.request.emotion, "sad");
      assert.deepEqual(
        manifest.frames?.map((frame) => frame.index),
        [0, 1, 2, 3],
      );
      for (const entry of manifest.frames ?? []) {
        const frame = await client.downloadFrame(job.id, entry.index, { manifest });
        assert.deepEqual([...frame.subarray(0, 8)], PNG_SIGNATURE);
        assert.equal(await sha256Hex(frame), entry.sha256);
      }
      const first = await client.downloadFrame(job.id, 0); // fetches the manifest itself
      assert.equal(first.byteLength, manifest.frames?.[0]?.size);
      const clip = await client.downloadClip(job.id, { manifest });
      assert.equal(await sha256Hex(clip), manifest.clip?.sha256);
      assert.ok(client.frameUrl(job.id, 2).endsWith(`/v1/renders/${job.id}/frames/2`));
      assert.ok(client.clipUrl(job.id).endsWith(`/v1/renders/${job.id}/clip.mp4`));

      await rejectsWith(client.downloadFrame(job.id, 4, { manifest }), NotFoundError);
      const tampered = structuredClone(manifest);
      tampered.frames![1]!.sha256 = "0".repeat(64);
      await rejectsWith(client.downloadFrame(job.id, 1, { manifest: tampered }), IntegrityError);
    });

    it("renders a batch of the seven emotions, jobs in request order", async () => {
      const requests: RenderRequest[] = EMOTIONS.map((emotion) => ({
        character_id: character.id,
        emotion,
        intensity: 0.6,
        ...SHORT,
        outputs: ["frames"],
      }));
      const jobs = await client.renderBatch(requests);
      assert.deepEqual(
        jobs.map((job) => job.request.emotion),
        [...EMOTIONS],
      );
      assert.equal(new Set(jobs.map((job) => job.id)).size, 7);
      const finished = await Promise.all(jobs.map((job) => wait(job.id)));
      assert.deepEqual(
        finished.map((job) => job.status),
        EMOTIONS.map(() => "succeeded"),
      );
    });

    it("replays a submission with the same Idempotency-Key, refuses it with another body", async () => {
      const key = `test-${Math.random().toString(16).slice(2)}`;
      const first = await client.renderEmotion(character.id, "angry", 0.3, { ...SHORT, idempotencyKey: key });
      const again = await client.renderEmotion(character.id, "angry", 0.3, { ...SHORT, idempotencyKey: key });
      assert.equal(again.id, first.id);
      const error = await rejectsWith(
        client.renderEmotion(character.id, "angry", 0.9, { ...SHORT, idempotencyKey: key }),
        IdempotencyKeyReusedError,
      );
      assert.ok(error instanceof ConflictError);
      assert.equal(error.status, 409);
      const batchKey = `${key}-batch`;
      const request: RenderRequest = { character_id: character.id, emotion: "neutral", ...SHORT };
      const batch = await client.renderBatch([request], { idempotencyKey: batchKey });
      const replay = await client.renderBatch([request], { idempotencyKey: batchKey });
      assert.deepEqual(
        replay.map((job) => job.id),
        batch.map((job) => job.id),
      );
      await Promise.all([wait(first.id), wait(batch[0]!.id)]);
    });

    it("cancels a job (it ends cancelled, without outputs), retries it as a new attempt", async () => {
      const job = await client.renderEmotion(character.id, "surprised", 1, LONG);
      const cancelling = await client.cancel(job.id);
      assert.ok(cancelling.cancel_requested);
      assert.ok(["cancelled", "running"].includes(cancelling.status), cancelling.status);
      const cancelled = await wait(job.id);
      assert.equal(cancelled.status, "cancelled");
      assert.equal((await client.cancel(job.id)).status, "cancelled", "cancelling twice is harmless");
      const notReady = await rejectsWith(client.getManifest(job.id), NotReadyError);
      assert.equal(notReady.status, 409);
      assert.equal(notReady.code, "not_ready");
      await rejectsWith(client.downloadFrame(job.id, 0), NotReadyError);

      const retried = await client.retry(job.id);
      assert.equal(retried.status, "queued");
      assert.equal(retried.cancel_requested, false);
      assert.equal(retried.error, null);
      const done = await wait(job.id);
      assert.equal(done.status, "succeeded");
      assert.ok(done.attempts >= 1);
      const manifest = await client.getManifest(job.id);
      assert.equal(manifest.attempt, done.attempts);
      assert.equal(manifest.frames?.length, 40);

      const conflict = await rejectsWith(client.retry(job.id), ConflictError);
      assert.equal(conflict.status, 409);
      await rejectsWith(client.cancel(job.id), ConflictError);
    });

    it(
      "records a permanent failure; a retry runs (and fails) again as a new attempt",
      { skip: options.faults ? false : "the stack's worker has no fault injection" },
      async () => {
        const job = await client.renderEmotion(character.id, "fearful", 0.5, {
          ...SHORT,
          metadata: { mock_fault: "permanent" },
        });
        const failed = await wait(job.id);
        assert.equal(failed.status, "failed");
        assert.equal(failed.error?.code, "render_failed");
        assert.equal(failed.error?.retryable, false);
        assert.equal(failed.attempts, 1);
        await rejectsWith(client.getManifest(job.id), NotReadyError);
        await rejectsWith(client.cancel(job.id), ConflictError);
        assert.equal((await client.retry(job.id)).status, "queued");
        const again = await wait(job.id);
        assert.equal(again.status, "failed");
        assert.equal(again.attempts, 2);
      },
    );

    it("answers NotFoundError for an unknown job id", async () => {
      const unknown = "0123456789abcdef0123456789abcdef";
      const error = await rejectsWith(client.getStatus(unknown), NotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.code, "not_found");
      await rejectsWith(client.cancel(unknown), NotFoundError);
      await rejectsWith(client.retry(unknown), NotFoundError);
      await rejectsWith(client.getManifest(unknown), NotFoundError);
      await rejectsWith(client.waitFor(unknown), NotFoundError);
    });

    it("answers CharacterNotFoundError for an unknown character", async () => {
      const error = await rejectsWith(
        client.renderEmotion("fedcba9876543210fedcba9876543210", "happy", 0.5, SHORT),
        CharacterNotFoundError,
      );
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.code, "character_not_found");
    });

    it("refuses invalid requests with ValidationError (422 invalid_request)", async () => {
      // Thunks: each call starts only when awaited (no rejection is left unhandled).
      // Each `@ts-expect-error` is a compile-time test too: the request types refuse the
      // request (the build fails if one ever compiles), and the adapter refuses it at run
      // time for callers who got past the types.
      const id = character.id;
      const video = "0123456789abcdef0123456789abcdef";
      // [what, call, a phrase the message must hold (the same from the API and the mock)]
      const cases: [string, () => Promise<unknown>, string?][] = [
        // @ts-expect-error not an emotion
        ["unknown emotion", () => client.renderEmotion(id, "ecstatic", 0.5, SHORT)],
        ["intensity over 1", () => client.renderEmotion(id, "happy", 1.5, SHORT)],
        ["intensity under 0", () => client.renderEmotion(id, "happy", -0.1, SHORT)],
        ["duration too short", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, duration_ms: 100 })],
        // @ts-expect-error 256 or 512 only
        ["size 300", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, size: 300 })],
        ["control out of range", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, controls: { smile: 2 } })],
        ["quality out of range", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, frame_format: "webp", quality: 0 })],
        ["empty batch", () => client.renderBatch([])],
        [
          "one bad request in a batch",
          () =>
            client.renderBatch([
              { character_id: id, emotion: "happy", ...SHORT },
              { character_id: id, emotion: "happy", intensity: 7, ...SHORT },
            ]),
        ],
        // @ts-expect-error an unknown field
        ["unknown field", () => client.renderBatch([{ character_id: id, emotion: "sad", colour: "red" }])],

        // exactly one of emotion and driving_video_id
        [
          "emotion and driving video",
          // @ts-expect-error both emotion and driving_video_id
          () => client.renderBatch([{ character_id: id, emotion: "happy", driving_video_id: video, ...SHORT }]),
          "requests.0: Value error, give exactly one of emotion and driving_video_id",
        ],
        [
          "emotion and driving video (options)",
          // @ts-expect-error renderEmotion takes no driving video
          () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, driving_video_id: video }),
          "body: Value error, give exactly one of emotion and driving_video_id",
        ],
        // @ts-expect-error neither emotion nor driving_video_id
        ["neither emotion nor driving video", () => client.renderBatch([{ character_id: id, ...SHORT }])],
        // @ts-expect-error emotion null is no motion either
        ["emotion null", () => client.renderBatch([{ character_id: id, emotion: null, driving_video_id: null }])],

        // quality only with webp or jpeg
        [
          "quality with default png",
          // @ts-expect-error quality with png frames (png is the default)
          () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, quality: 80 }),
          "body: Value error, quality applies to webp and jpeg frames, not png",
        ],
        [
          "quality with png",
          // @ts-expect-error quality with png frames
          () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, frame_format: "png", quality: 80 }),
          "quality applies to webp and jpeg frames, not png",
        ],
        // @ts-expect-error quality with png frames
        ["quality with png (batch)", () => client.renderBatch([{ character_id: id, emotion: "sad", frame_format: "png", quality: 50 }])],

        // metadata: flat and bounded
        [
          "metadata nested object",
          // @ts-expect-error nested object
          () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, metadata: { scene: { take: 2 } } }),
          "metadata.scene.constrained-str: Input should be a valid string",
        ],
        // @ts-expect-error nested array
        ["metadata nested array", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, metadata: { tags: ["a", "b"] } })],
        // @ts-expect-error nested object in a batch
        ["metadata nested (batch)", () => client.renderBatch([{ character_id: id, emotion: "sad", metadata: { a: { b: 1 } } }])],
        [
          "metadata 17 keys",
          () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, metadata: keys(17) }),
          "metadata: Dictionary should have at most 16 items",
        ],
        ["metadata empty key", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, metadata: { "": 1 } })],
        ["metadata 65-character key", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, metadata: { ["k".repeat(65)]: 1 } })],
        ["metadata 241-character text", () => client.renderEmotion(id, "happy", 0.5, { ...SHORT, metadata: { note: "x".repeat(241) } })],
      ];
      for (const [what, call, phrase] of cases) {
        const error = await rejectsWith(call(), ValidationError);
        assert.equal(error.status, 422, what);
        assert.equal(error.code, "invalid_request", what);
        assert.ok(error.message.length > 0, what);
        if (phrase !== undefined) assert.ok(error.message.includes(phrase), `${what}: ${error.message}`);
      }
    });

    it("accepts metadata at its limits and quality with webp, and echoes them", async () => {
      const metadata: Metadata = {
        ...keys(12),
        ["k".repeat(64)]: "x".repeat(240),
        astral: "\u{1F600}".repeat(240), // 240 characters (480 UTF-16 units)
        flag: true,
        nothing: null,
      };
      const job = await client.renderEmotion(character.id, "happy", 0.4, {
        ...SHORT,
        outputs: ["frames"],
        frame_format: "webp",
        quality: 70,
        metadata,
      });
      assert.equal(job.request.frame_format, "webp");
      assert.equal(job.request.quality, 70);
      assert.equal(job.request.driving_video_id, null);
      assert.deepEqual(job.request.metadata, metadata);
      const done = await wait(job.id);
      assert.equal(done.status, "succeeded");
      const manifest = await client.getManifest(job.id);
      assert.equal(manifest.frame_format, "webp");
      assert.deepEqual(manifest.request.metadata, metadata);
      await client.downloadFrame(job.id, 0, { manifest }); // size and sha256 checked
    });

    it("answers DrivingVideoNotFoundError for a driving video it does not know", async () => {
      const error = await rejectsWith(
        client.renderBatch([{ character_id: character.id, driving_video_id: "0123456789abcdef0123456789abcdef", ...SHORT }]),
        DrivingVideoNotFoundError,
      );
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.code, "driving_video_not_found");
    });

    it("stops waitFor when its signal aborts", async () => {
      const job = await client.renderEmotion(character.id, "disgusted", 0.7, LONG);
      const controller = new AbortController();
      let calls = 0;
      await assert.rejects(
        wait(job.id, {
          signal: controller.signal,
          onProgress: () => {
            calls += 1;
            controller.abort();
          },
        }),
        { name: "AbortError" },
      );
      assert.equal(calls, 1);
      await assert.rejects(client.getStatus(job.id, { signal: controller.signal }), { name: "AbortError" });
      const after = await client.getStatus(job.id);
      if (!isTerminal(after.status)) await client.cancel(job.id);
      await wait(job.id);
    });

    it("gives up waiting after timeoutMs with WaitTimeoutError; the job goes on", async () => {
      const job = await client.renderEmotion(character.id, "neutral", 0.2, LONG);
      const error = await rejectsWith(
        client.waitFor(job.id, { pollIntervalMs: 40, timeoutMs: 60 }),
        WaitTimeoutError,
      );
      assert.equal(error.code, "wait_timeout");
      const status = await client.getStatus(job.id);
      if (!isTerminal(status.status)) await client.cancel(job.id);
      await wait(job.id);
    });

    it("reports health", async () => {
      const health = await client.healthCheck();
      assert.equal(health.alive, true);
      assert.equal(health.ready, true);
      assert.deepEqual(health.queuesWithoutWorkers, []);
    });
  });
  eventsSuite(name, makeClient);
}
