/**
 * The mock's copy of the API's request validation (render_core/schema.py RenderRequest,
 * render_core/emotions.py FineControls): the same limits and rules, the same 422
 * `invalid_request` with pydantic's wording, and requests normalised with the same
 * defaults the API echoes. The shared behaviour tests run against both, so the two
 * cannot drift apart silently.
 *
 * The input is `unknown` (a caller may get past the types, or build requests from
 * JSON); every field is checked and narrowed on its own, so the result is typed by what
 * was checked, not by a cast.
 */

import { ValidationError } from "./errors.js";
import {
  EMOTIONS,
  FRAME_FORMATS,
  isLossyFrameFormat,
  type Emotion,
  type FineControls,
  type LossyFrameFormat,
  type Metadata,
  type OutputKind,
  type Priority,
  type RenderFields,
} from "./types.js";

// render_core/schema.py: metadata is a flat object of scalars, bounded by the schema.
export const MAX_METADATA_KEYS = 16;
export const MAX_METADATA_KEY_LENGTH = 64;
export const MAX_METADATA_TEXT_LENGTH = 240;
const MAX_ID_LENGTH = 64;

const REQUEST_FIELDS: readonly string[] = [
  "character_id",
  "emotion",
  "driving_video_id",
  "controls",
  "intensity",
  "duration_ms",
  "fps",
  "size",
  "outputs",
  "frame_format",
  "quality",
  "priority",
  "cache",
  "metadata",
];
const CONTROL_RANGES: Readonly<Record<keyof FineControls, readonly [number, number]>> = {
  smile: [-1, 1],
  eyebrow: [-1, 1],
  eye_open: [-1, 1],
  mouth_open: [0, 1],
  head_pitch: [-20, 20],
  head_yaw: [-30, 30],
  head_roll: [-20, 20],
};
const SIZES: readonly NonNullable<RenderFields["size"]>[] = [256, 512];
const OUTPUT_KINDS: readonly OutputKind[] = ["frames", "mp4"];
const PRIORITIES: readonly Priority[] = ["interactive", "batch"];

/** A request as the API stores and echoes it: every field present, defaults filled in. */
export type NormalizedRequest = Required<RenderFields> &
  ({ emotion: Emotion; driving_video_id: null } | { emotion: null; driving_video_id: string }) &
  ({ frame_format: "png"; quality: null } | { frame_format: LossyFrameFormat; quality: number | null });

type Problems = string[];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isControlKey(key: string): key is keyof FineControls {
  return Object.hasOwn(CONTROL_RANGES, key);
}

/** Python's len(): code points, not UTF-16 units. */
function length(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function number(
  problems: Problems,
  where: string,
  value: unknown,
  min: number,
  max: number,
  integer: boolean,
): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    problems.push(`${where}: Input should be a valid ${integer ? "integer" : "number"}`);
  } else if (integer && !Number.isInteger(value)) {
    problems.push(`${where}: Input should be a valid integer`);
  } else if (value < min) {
    problems.push(`${where}: Input should be greater than or equal to ${min}`);
  } else if (value > max) {
    problems.push(`${where}: Input should be less than or equal to ${max}`);
  } else {
    return value;
  }
  return undefined;
}

function choice<T>(problems: Problems, where: string, value: unknown, allowed: readonly T[]): T | undefined {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    problems.push(`${where}: Input should be ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  }
  return found;
}

function string(problems: Problems, where: string, value: unknown, max: number): string | undefined {
  if (typeof value !== "string") problems.push(`${where}: Input should be a valid string`);
  else if (length(value) < 1) problems.push(`${where}: String should have at least 1 character`);
  else if (length(value) > max) problems.push(`${where}: String should have at most ${max} characters`);
  else return value;
  return undefined;
}

function checkControls(problems: Problems, value: unknown, prefix: string): FineControls | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) {
    problems.push(`${prefix}controls: Input should be a valid dictionary or object`);
    return null;
  }
  const out: FineControls = {};
  for (const key of Object.keys(value)) {
    if (!isControlKey(key)) problems.push(`${prefix}controls.${key}: Extra inputs are not permitted`);
  }
  for (const key of Object.keys(CONTROL_RANGES).filter(isControlKey)) {
    const [min, max] = CONTROL_RANGES[key];
    const given = value[key];
    out[key] =
      given === null || given === undefined ? null : (number(problems, `${prefix}controls.${key}`, given, min, max, false) ?? null);
  }
  return out;
}

/**
 * `metadata`: null, or a flat object of at most 16 keys (1 to 64 characters) whose values
 * are texts of at most 240 characters, numbers, booleans or null. Nested objects and
 * arrays are refused, as the API's schema refuses them (pydantic's messages).
 */
export function checkMetadata(problems: Problems, value: unknown, prefix = ""): Metadata | null {
  const where = `${prefix}metadata`;
  if (value === null || value === undefined) return null;
  if (!isObject(value)) {
    problems.push(`${where}: Input should be an object`);
    return null;
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_METADATA_KEYS) {
    problems.push(`${where}: Dictionary should have at most ${MAX_METADATA_KEYS} items after validation, not more`);
    return null;
  }
  const out: Metadata = {};
  for (const [key, item] of entries) {
    if (length(key) < 1) problems.push(`${where}.${key}.[key]: String should have at least 1 character`);
    else if (length(key) > MAX_METADATA_KEY_LENGTH) {
      problems.push(`${where}.${key}.[key]: String should have at most ${MAX_METADATA_KEY_LENGTH} characters`);
    }
    if (typeof item === "string") {
      if (length(item) > MAX_METADATA_TEXT_LENGTH) {
        problems.push(`${where}.${key}.constrained-str: String should have at most ${MAX_METADATA_TEXT_LENGTH} characters`);
      } else {
        out[key] = item;
      }
    } else if (typeof item === "boolean" || item === null || (typeof item === "number" && Number.isFinite(item))) {
      out[key] = item;
    } else {
      problems.push(
        `${where}.${key}.constrained-str: Input should be a valid string; ${where}.${key}.bool: Input should be a valid boolean; ` +
          `${where}.${key}.int: Input should be a valid integer; ${where}.${key}.float: Input should be a valid number`,
      );
    }
  }
  return out;
}

/** Problems with one request, and (when there are none) the request with the API's defaults. */
export function checkRequest(raw: unknown, prefix = ""): { problems: Problems; request?: NormalizedRequest } {
  const problems: Problems = [];
  const body = prefix ? prefix.slice(0, -1) : "body";
  if (!isObject(raw)) {
    problems.push(`${body}: Input should be a valid dictionary or object`);
    return { problems };
  }
  for (const key of Object.keys(raw)) {
    if (!REQUEST_FIELDS.includes(key)) problems.push(`${prefix}${key}: Extra inputs are not permitted`);
  }
  const given = (key: string): unknown => (raw[key] === null ? undefined : raw[key]);
  const or = <T>(key: string, fallback: T, check: (value: unknown) => T | undefined): T | undefined =>
    raw[key] === undefined ? fallback : check(raw[key]);

  let characterId: string | undefined;
  if (raw["character_id"] === undefined) problems.push(`${prefix}character_id: Field required`);
  else characterId = string(problems, `${prefix}character_id`, raw["character_id"], MAX_ID_LENGTH);
  const emotionGiven = given("emotion");
  const emotion = emotionGiven === undefined ? null : choice(problems, `${prefix}emotion`, emotionGiven, EMOTIONS);
  const videoGiven = given("driving_video_id");
  const drivingVideoId =
    videoGiven === undefined ? null : string(problems, `${prefix}driving_video_id`, videoGiven, MAX_ID_LENGTH);
  const controls = checkControls(problems, raw["controls"], prefix);
  const intensity = or("intensity", 0.8, (v) => number(problems, `${prefix}intensity`, v, 0, 1, false));
  const durationMs = or("duration_ms", 2000, (v) => number(problems, `${prefix}duration_ms`, v, 200, 10_000, true));
  const fps = or("fps", 25, (v) => number(problems, `${prefix}fps`, v, 1, 60, true));
  const size = or("size", 512, (v) => choice(problems, `${prefix}size`, v, SIZES));
  const outputs = or<OutputKind[]>("outputs", ["frames", "mp4"], (value) => {
    if (!Array.isArray(value)) {
      problems.push(`${prefix}outputs: Input should be a valid list`);
      return undefined;
    }
    const kinds: OutputKind[] = [];
    value.forEach((kind: unknown, i) => {
      const checked = choice(problems, `${prefix}outputs.${i}`, kind, OUTPUT_KINDS);
      if (checked !== undefined) kinds.push(checked);
    });
    if (value.length < 1) problems.push(`${prefix}outputs: List should have at least 1 item after validation, not 0`);
    else if (kinds.length === value.length && new Set(kinds).size !== kinds.length) {
      problems.push(`${prefix}outputs: Value error, outputs must not repeat an entry`);
    }
    return kinds;
  });
  const frameFormat = or("frame_format", "png", (v) => choice(problems, `${prefix}frame_format`, v, FRAME_FORMATS));
  const qualityGiven = given("quality");
  const quality = qualityGiven === undefined ? null : number(problems, `${prefix}quality`, qualityGiven, 1, 100, true);
  const priority = or("priority", "interactive", (v) => choice(problems, `${prefix}priority`, v, PRIORITIES));
  const cache = or("cache", true, (v) => choice(problems, `${prefix}cache`, v, [true, false]));
  const metadata = checkMetadata(problems, raw["metadata"], prefix);

  if (
    problems.length > 0 ||
    characterId === undefined ||
    emotion === undefined ||
    drivingVideoId === undefined ||
    intensity === undefined ||
    durationMs === undefined ||
    fps === undefined ||
    size === undefined ||
    outputs === undefined ||
    frameFormat === undefined ||
    quality === undefined ||
    priority === undefined ||
    cache === undefined
  ) {
    return { problems };
  }

  // The model's own rules, checked (as pydantic's model validators) once every field passed.
  let motion: { emotion: Emotion; driving_video_id: null } | { emotion: null; driving_video_id: string };
  if (emotion !== null && drivingVideoId === null) motion = { emotion, driving_video_id: null };
  else if (emotion === null && drivingVideoId !== null) motion = { emotion: null, driving_video_id: drivingVideoId };
  else {
    problems.push(`${body}: Value error, give exactly one of emotion and driving_video_id`);
    return { problems };
  }
  let frames: { frame_format: "png"; quality: null } | { frame_format: LossyFrameFormat; quality: number | null };
  if (isLossyFrameFormat(frameFormat)) frames = { frame_format: frameFormat, quality };
  else if (quality === null) frames = { frame_format: "png", quality: null };
  else {
    problems.push(`${body}: Value error, quality applies to webp and jpeg frames, not png`);
    return { problems };
  }

  const request: NormalizedRequest = {
    character_id: characterId,
    ...motion,
    controls,
    intensity,
    duration_ms: durationMs,
    fps,
    size,
    outputs,
    ...frames,
    priority,
    cache,
    metadata,
  };
  return { problems, request };
}

/** The normalised request, or ValidationError (422 invalid_request) as the API answers. */
export function validateRequest(raw: unknown): NormalizedRequest {
  const { problems, request } = checkRequest(raw);
  if (request === undefined) throw new ValidationError(problems.join("; "), { status: 422 });
  return request;
}

/** The normalised batch (1 to 100 requests), or ValidationError. */
export function validateBatch(requests: unknown): NormalizedRequest[] {
  if (!Array.isArray(requests)) {
    throw new ValidationError("requests: Input should be a valid list", { status: 422 });
  }
  const problems: Problems = [];
  if (requests.length < 1) problems.push("requests: List should have at least 1 item after validation, not 0");
  if (requests.length > 100) {
    problems.push(`requests: List should have at most 100 items after validation, not ${requests.length}`);
  }
  const normalised: NormalizedRequest[] = [];
  requests.forEach((raw: unknown, i) => {
    const checked = checkRequest(raw, `requests.${i}.`);
    problems.push(...checked.problems);
    if (checked.request !== undefined) normalised.push(checked.request);
  });
  if (problems.length > 0) throw new ValidationError(problems.join("; "), { status: 422 });
  return normalised;
}
