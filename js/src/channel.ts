// The `oai-events` data channel's wire format: one JSON event per message, both ways.
import { UserFacingError, isRecord, truncate } from "./errors";
import type { RealtimeEvent } from "./protocol";

export const CHANNEL_LABEL = "oai-events";

/** How much of a malformed message goes into the log. */
export const MALFORMED_RAW_CHARS = 2048;

/**
 * Larger messages make Chrome close the data channel (SCTP max-message-size); refuse them instead
 * of losing the call. Used when the peer connection does not state its own limit.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

export type Decoded = { ok: true; event: RealtimeEvent } | { ok: false; raw: string; reason: string };

/** A message from the peer: an event object with a string `type`, or the reason it is not one. */
export function decodeServerMessage(data: unknown): Decoded {
  if (typeof data !== "string") {
    const size = data instanceof ArrayBuffer ? data.byteLength : data instanceof Blob ? data.size : 0;
    return { ok: false, raw: `<binary message, ${size} bytes>`, reason: "a binary message, not JSON text" };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (error) {
    return { ok: false, raw: truncate(data, MALFORMED_RAW_CHARS), reason: error instanceof Error ? error.message : "invalid JSON" };
  }
  if (!isRecord(parsed) || typeof parsed.type !== "string") {
    return { ok: false, raw: truncate(data, MALFORMED_RAW_CHARS), reason: "JSON that is not an event object with a string type" };
  }
  return { ok: true, event: parsed as RealtimeEvent };
}

/** The text to send for a client event; refuses one too large for the channel. */
export function encodeClientEvent(event: RealtimeEvent, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): string {
  const text = JSON.stringify(event);
  // UTF-16 length bounds the UTF-8 size from below and 3x from above; only count bytes when close.
  if (text.length * 3 > maxBytes) {
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > maxBytes) {
      throw new UserFacingError(
        "event_too_large",
        `The ${event.type} event is ${bytes} bytes, more than the data channel carries (${maxBytes}); it was not sent. Send large content in smaller pieces.`,
      );
    }
  }
  return text;
}
