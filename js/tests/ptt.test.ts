import { describe, expect, it } from "vitest";
import { PushToTalk, turnDetectionOf, turnDetectionUpdate } from "../src/ptt";

const semantic = { type: "semantic_vad", eagerness: "low" };
const sessionEvent = (type: string, turnDetection: unknown) => ({ type, session: { audio: { input: { turn_detection: turnDetection } } } });

describe("PushToTalk", () => {
  it("turns turn detection off, then restores the session's own setting", () => {
    const ptt = new PushToTalk();
    ptt.observe(sessionEvent("session.created", semantic));
    expect(ptt.enable()).toEqual([turnDetectionUpdate(null)]);
    // Our own update echoes back as null: it must not become the setting to restore.
    ptt.observe(sessionEvent("session.updated", null));
    expect(ptt.disable()).toEqual([turnDetectionUpdate(semantic)]);
  });

  it("restores server VAD when the session never said", () => {
    const ptt = new PushToTalk();
    ptt.enable();
    expect(ptt.disable()).toEqual([turnDetectionUpdate({ type: "server_vad" })]);
  });

  it("restores null when the session had turn detection off already", () => {
    const ptt = new PushToTalk();
    ptt.observe(sessionEvent("session.created", null));
    ptt.enable();
    expect(ptt.disable()).toEqual([turnDetectionUpdate(null)]);
  });

  it("clears on press and commits + asks for a response on release, once each", () => {
    const ptt = new PushToTalk();
    expect(ptt.press()).toEqual([]); // off: nothing
    ptt.enable();
    expect(ptt.press()).toEqual([{ type: "input_audio_buffer.clear" }]);
    expect(ptt.press()).toEqual([]); // key repeat
    expect(ptt.release()).toEqual([{ type: "input_audio_buffer.commit" }, { type: "response.create" }]);
    expect(ptt.release()).toEqual([]);
  });

  it("turns detection off again when a new session starts with push-to-talk on", () => {
    const ptt = new PushToTalk();
    ptt.enable();
    expect(ptt.observe(sessionEvent("session.created", { type: "server_vad" }))).toEqual([turnDetectionUpdate(null)]);
    expect(ptt.disable()).toEqual([turnDetectionUpdate({ type: "server_vad" })]);
  });

  it("reads the beta session shape", () => {
    expect(turnDetectionOf({ turn_detection: semantic })).toEqual(semantic);
    expect(turnDetectionOf({ audio: { input: {} } })).toBeUndefined();
    expect(turnDetectionOf(null)).toBeUndefined();
  });

  it("sends a GA session.update", () => {
    expect(turnDetectionUpdate(null)).toEqual({
      type: "session.update",
      session: { type: "realtime", audio: { input: { turn_detection: null } } },
    });
  });
});
