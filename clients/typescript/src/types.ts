/**
 * Friendly names for the schemas of the generated OpenAPI types. This file is the one
 * place that knows the schema names: when the document changes, `npm run generate`
 * rewrites `generated/openapi.ts` and only this file may need to follow.
 */

import type { components, paths } from "./generated/openapi.js";
import {
  emotionValues,
  frameFormatValues,
  jobStatusValues,
  renderRequestAnyOf1Frame_formatValues,
} from "./generated/openapi.js";

type Schemas = components["schemas"];

export type Character = Schemas["CharacterView"];
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
  "character_id" | "controls" | "intensity" | "duration_ms" | "fps" | "size" | "outputs" | "priority" | "metadata"
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
