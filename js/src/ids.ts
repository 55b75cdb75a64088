import type { RealtimeEvent } from "./protocol";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A random id such as `evt_3kZ...`. crypto.getRandomValues works on plain http pages too (randomUUID does not). */
export function randomId(prefix: string, length = 20): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let id = prefix;
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}

/**
 * The event with an `event_id`, adding one when it has none, so that every client event in the log
 * is distinct and the server's `error` events (which quote `event_id`) can be matched to it.
 * Returns a copy rather than mutating the caller's object.
 */
export function withEventId(event: RealtimeEvent): RealtimeEvent {
  if (typeof event.event_id === "string" && event.event_id !== "") return event;
  return { ...event, event_id: randomId("evt_") };
}
