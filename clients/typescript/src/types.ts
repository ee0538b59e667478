/**
 * Friendly names for the schemas of the generated OpenAPI types. This file is the one
 * place that knows the schema names: when the document changes, `npm run generate`
 * rewrites `generated/openapi.ts` and only this file may need to follow.
 */

import type { components } from "./generated/openapi.js";
import { emotionValues, jobStatusValues } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type Character = Schemas["CharacterView"];
export type DetectedFace = Schemas["DetectedFace"];
export type FaceBox = Schemas["FaceBox"];
export type Emotion = Schemas["Emotion"];
export type FineControls = Schemas["FineControls"];
export type FrameFormat = Schemas["FrameFormat"];
export type OutputKind = Schemas["OutputKind"];
export type Priority = Schemas["Priority"];
export type RenderRequest = Schemas["RenderRequest"];
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

/** The seven emotions, in the API's order. */
export const EMOTIONS: readonly Emotion[] = emotionValues;
/** Every job status, in lifecycle order. */
export const JOB_STATUSES: readonly JobStatus[] = jobStatusValues;

const TERMINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(["succeeded", "failed", "cancelled"]);

/** succeeded, failed and cancelled are final (failed and cancelled may be retried). */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}
