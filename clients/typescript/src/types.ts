/**
 * Friendly names for the schemas of the generated OpenAPI types. This file is the one
 * place that knows the schema names: when the document changes, `npm run generate`
 * rewrites `generated/openapi.ts` and only this file may need to follow.
 */

import type { components, paths } from "./generated/openapi.js";
import {
  emotionValues,
  eventTypeValues,
  frameFormatValues,
  jobStatusValues,
  renderRequestAnyOf1Frame_formatValues,
} from "./generated/openapi.js";

type Schemas = components["schemas"];

export type Character = Schemas["CharacterView"];
export type CharacterPage = Schemas["CharacterPage"];
export type DetectedFace = Schemas["DetectedFace"];
export type FaceBox = Schemas["FaceBox"];
export type Emotion = Schemas["Emotion"];
export type FineControls = Schemas["FineControls"];
export type FrameFormat = Schemas["FrameFormat"];
export type OutputKind = Schemas["OutputKind"];
export type Priority = Schemas["Priority"];
export type Job = Schemas["JobView"];
export type JobStatus = Schemas["JobStatus"];
export type JobError = Schemas["JobError"];
export type Progress = Schemas["Progress"];
export type RendererInfo = Schemas["RendererInfo"];
export type RenderManifest = Schemas["RenderManifest"];
export type RendererDescription = Schemas["RendererDescription"];
export type FrameEntry = Schemas["FrameEntry"];
export type ObjectEntry = Schemas["ObjectEntry"];
export type ErrorBody = Schemas["ErrorBody"];

// ------------------------------------------------------------ render requests
//
// The schema's RenderRequest is its properties plus two rules: exactly one of
// `emotion` and `driving_video_id` (oneOf EmotionMotion | DrivingVideoMotion), and
// `quality` only with webp or jpeg frames (anyOf). openapi-typescript renders the rules
// loosely (it cannot say "not null"), so the request types below spell them out as
// discriminated unions built from the generated property types. Every RenderRequest
// written with them is a valid generated RenderRequest: the HTTP adapter sends it typed
// as the generated request body, so the compiler checks that too.

/** The request as the schema declares it; `Job.request` and `RenderManifest.request` echo this. */
export type RenderRequestSchema = Schemas["RenderRequest"];

/** `metadata`: a flat object of scalars (at most 16 keys of 1 to 64 characters, texts up to 240). */
export type Metadata = NonNullable<RenderRequestSchema["metadata"]>;
/** One metadata value: a text (up to 240 characters), a number, a boolean or null. */
export type MetadataValue = Metadata[string];

/** The fields of a render request other than the motion source and the frame format. */
export type RenderFields = Pick<
  RenderRequestSchema,
  | "character_id"
  | "controls"
  | "intensity"
  | "duration_ms"
  | "fps"
  | "size"
  | "outputs"
  | "priority"
  | "cache"
  | "metadata"
>;

/** Motion from one of the seven emotions; no driving video. */
export interface EmotionMotion {
  emotion: Emotion;
  driving_video_id?: null;
}
/** Motion copied from a registered driving video; no emotion. */
export interface DrivingVideoMotion {
  driving_video_id: NonNullable<RenderRequestSchema["driving_video_id"]>;
  emotion?: null;
}
/** Exactly one of `emotion` and `driving_video_id`. */
export type Motion = EmotionMotion | DrivingVideoMotion;

/** The frame formats that take a `quality`: webp and jpeg. */
export type LossyFrameFormat = Extract<RenderRequestSchema, { frame_format: unknown }>["frame_format"];
/** The frame format that does not: png. */
export type LosslessFrameFormat = Exclude<FrameFormat, LossyFrameFormat>;
/** PNG frames (the default): no `quality`. */
export interface LosslessFrames {
  frame_format?: LosslessFrameFormat;
  quality?: null;
}
/** WebP or JPEG frames, with an optional `quality` (1 to 100, default 90). */
export interface LossyFrames {
  frame_format: LossyFrameFormat;
  quality?: RenderRequestSchema["quality"];
}
/** `quality` only with webp or jpeg frames. */
export type FrameOptions = LosslessFrames | LossyFrames;

/**
 * One render: a character, exactly one motion source, and frames whose `quality` is
 * given only for webp or jpeg. The compiler refuses a request with both (or neither)
 * of `emotion` and `driving_video_id`, or with `quality` on png frames.
 */
export type RenderRequest = RenderFields & Motion & FrameOptions;

/** POST /v1/renders's body as the document declares it (a RenderRequest is one). */
export type SubmitRenderBody = paths["/v1/renders"]["post"]["requestBody"]["content"]["application/json"];
/** POST /v1/renders/batch's body as the document declares it. */
export type SubmitBatchBody = paths["/v1/renders/batch"]["post"]["requestBody"]["content"]["application/json"];
/** POST /v1/renders/batch's answer. */
export type BatchJobs = Schemas["BatchJobs"];

/** The seven emotions, in the API's order. */
export const EMOTIONS: readonly Emotion[] = emotionValues;
/** png, webp and jpeg. */
export const FRAME_FORMATS: readonly FrameFormat[] = frameFormatValues;
/** Whether `format` is one of the frame formats that take a `quality` (webp, jpeg). */
export function isLossyFrameFormat(format: unknown): format is LossyFrameFormat {
  // The values come from the document's anyOf; the generated array's element type is
  // wider than its values (openapi-typescript flattens the union first), so look, not cast.
  return renderRequestAnyOf1Frame_formatValues.some((value) => value === format);
}
/** The frame formats that take a `quality`: webp and jpeg. */
export const LOSSY_FRAME_FORMATS: readonly LossyFrameFormat[] = FRAME_FORMATS.filter(isLossyFrameFormat);
/** Every job status, in lifecycle order. */
export const JOB_STATUSES: readonly JobStatus[] = jobStatusValues;

const TERMINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(["succeeded", "failed", "cancelled"]);

/** succeeded, failed and cancelled are final (failed and cancelled may be retried). */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}

// ------------------------------------------------------------ events

/** The types of the tenant's event log (`render.queued` … `render.retried`). */
export type EventType = Schemas["EventType"];
/** Every event type in the log's order. */
export const EVENT_TYPES: readonly EventType[] = eventTypeValues;

/**
 * Each event type's `data` (the API's "Events and webhooks" table). `render.state` is
 * not in the log: it opens a render's stream with the job as `GET /v1/renders/{id}`
 * shows it.
 */
export interface RenderEventData {
  "render.state": Job;
  "render.queued": { priority: Priority; frames_total: number; metadata: Metadata | null };
  "render.started": { attempt: number; worker: string | null; renderer: RendererInfo | null };
  /** `frames`: the indices stored since the previous progress event. */
  "render.progress": { attempt: number; frames_done: number; frames_total: number; frames: number[] };
  "render.succeeded": { attempt: number; manifest_key: string | null };
  "render.failed": { attempt: number; error: JobError | null };
  "render.cancelled": { attempt: number };
  /** `manual`: a retry() call rather than an automatic retry after a transient error. */
  "render.retried": { attempt: number; manual: boolean; error: JobError | null };
}
export type RenderEventType = keyof RenderEventData;

/**
 * One event, as an SSE `data:` line and a webhook body carry it; narrow on `type` to
 * get its `data`. `id` is the log position (`ms-seq`, increasing): the resume point.
 */
export type RenderEvent = {
  [K in RenderEventType]: { id: string; type: K; time: string; render_id: string; data: RenderEventData[K] };
}[RenderEventType];

// The log's types above are the document's: a type added to (or removed from) the
// document's EventType fails the build here until RenderEventData follows.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const eventTypesMatch: Same<Exclude<RenderEventType, "render.state">, EventType> = true;
void eventTypesMatch;

const TERMINAL_EVENTS: ReadonlySet<string> = new Set<RenderEventType>([
  "render.succeeded",
  "render.failed",
  "render.cancelled",
]);

/** The render ended with this event (or, for `render.state`, had already ended). */
export function isTerminalEvent(event: RenderEvent): boolean {
  return event.type === "render.state" ? isTerminal(event.data.status) : TERMINAL_EVENTS.has(event.type);
}

/** Compare two event ids (`ms-seq`) as the log orders them: negative, 0 or positive. */
export function compareEventIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** Whether `id` is an event id (`ms` or `ms-seq`), as Last-Event-ID must be. */
export function isEventId(id: string): boolean {
  return /^[0-9]+(-[0-9]+)?$/.test(id);
}
