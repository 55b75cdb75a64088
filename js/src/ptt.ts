// Push-to-talk: the client events it takes, independent of buttons and keys.
//
// Turning it on switches the session's turn detection off; holding the talk button clears the input
// buffer on press and commits it + asks for a response on release. Turning it off restores the turn
// detection the session had before, as last seen in session.created / session.updated.
import { isRecord } from "./errors";
import type { RealtimeEvent } from "./protocol";

/** Restored when the session never told us its turn detection (the GA default). */
const DEFAULT_TURN_DETECTION = { type: "server_vad" };

export class PushToTalk {
  enabled = false;
  pressed = false;
  /** The session's own turn detection, to restore; undefined until a session event shows it. */
  private saved: unknown = undefined;

  /** Turns push-to-talk on; returns the events to send (send them only when a call is up). */
  enable(): RealtimeEvent[] {
    if (this.enabled) return [];
    this.enabled = true;
    return [turnDetectionUpdate(null)];
  }

  disable(): RealtimeEvent[] {
    if (!this.enabled) return [];
    this.enabled = false;
    this.pressed = false;
    return [turnDetectionUpdate(this.saved === undefined ? DEFAULT_TURN_DETECTION : this.saved)];
  }

  press(): RealtimeEvent[] {
    if (!this.enabled || this.pressed) return [];
    this.pressed = true;
    return [{ type: "input_audio_buffer.clear" }];
  }

  release(): RealtimeEvent[] {
    if (!this.pressed) return [];
    this.pressed = false;
    return [{ type: "input_audio_buffer.commit" }, { type: "response.create" }];
  }

  /** A call ended: a held button is no longer held. */
  reset(): void {
    this.pressed = false;
  }

  /**
   * Watches server events for the session's turn detection. Returns events to send: a new session
   * (a fresh call) starts with turn detection on, so push-to-talk, if on, turns it off again.
   */
  observe(event: RealtimeEvent): RealtimeEvent[] {
    if (event.type !== "session.created" && event.type !== "session.updated") return [];
    const seen = turnDetectionOf(event.session);
    if (seen === undefined) return [];
    if (!this.enabled) {
      this.saved = seen;
      return [];
    }
    // While on, our own update comes back as null; anything else is the session's setting to restore.
    if (seen !== null) this.saved = seen;
    return event.type === "session.created" && seen !== null ? [turnDetectionUpdate(null)] : [];
  }
}

/** GA: session.audio.input.turn_detection; beta: session.turn_detection. Undefined when absent. */
export function turnDetectionOf(session: unknown): unknown {
  if (!isRecord(session)) return undefined;
  const audio = session.audio;
  if (isRecord(audio) && isRecord(audio.input) && "turn_detection" in audio.input) return audio.input.turn_detection;
  if ("turn_detection" in session) return session.turn_detection;
  return undefined;
}

export function turnDetectionUpdate(turnDetection: unknown): RealtimeEvent {
  return { type: "session.update", session: { type: "realtime", audio: { input: { turn_detection: turnDetection } } } };
}
