import { emotionValues, eventTypeValues, frameFormatValues, jobStatusValues, renderRequestAnyOf1Frame_formatValues, } from "./generated/openapi.js";
export const EMOTIONS = emotionValues;
export const FRAME_FORMATS = frameFormatValues;
export function isLossyFrameFormat(format) {
    return renderRequestAnyOf1Frame_formatValues.some((value) => value === format);
}
export const LOSSY_FRAME_FORMATS = FRAME_FORMATS.filter(isLossyFrameFormat);
export const JOB_STATUSES = jobStatusValues;
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
export function isTerminal(status) {
    return TERMINAL.has(status);
}
export const EVENT_TYPES = eventTypeValues;
const eventTypesMatch = true;
void eventTypesMatch;
const TERMINAL_EVENTS = new Set([
    "render.succeeded",
    "render.failed",
    "render.cancelled",
]);
export function isTerminalEvent(event) {
    return event.type === "render.state" ? isTerminal(event.data.status) : TERMINAL_EVENTS.has(event.type);
}
export function compareEventIds(a, b) {
    const [am = 0, as = 0] = a.split("-").map(Number);
    const [bm = 0, bs = 0] = b.split("-").map(Number);
    return am !== bm ? am - bm : as - bs;
}
export function isEventId(id) {
    return /^[0-9]+(-[0-9]+)?$/.test(id);
}
