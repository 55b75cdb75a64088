import { describe, expect, it } from "vitest";
import type { RealtimeEvent } from "../src/protocol";
import { Transcript } from "../src/transcript";

function run(events: RealtimeEvent[], transcript = new Transcript()) {
  for (const event of events) transcript.apply(event);
  return transcript.list().map(({ role, text, status }) => ({ role, text, status }));
}

const userAudioItem = (id: string): RealtimeEvent => ({
  type: "conversation.item.added",
  item: { id, type: "message", role: "user", status: "completed", content: [{ type: "input_audio", transcript: null }] },
});

describe("Transcript", () => {
  it("streams the assistant's audio transcript (GA names) and settles it on done", () => {
    expect(
      run([
        { type: "response.output_audio_transcript.delta", response_id: "resp_1", item_id: "item_a", delta: "Hel" },
        { type: "response.output_audio_transcript.delta", response_id: "resp_1", item_id: "item_a", delta: "lo!" },
      ]),
    ).toEqual([{ role: "assistant", text: "Hello!", status: "streaming" }]);
    expect(
      run([
        { type: "response.output_audio_transcript.delta", item_id: "item_a", delta: "Hel" },
        { type: "response.output_audio_transcript.done", item_id: "item_a", transcript: "Hello there." },
      ]),
    ).toEqual([{ role: "assistant", text: "Hello there.", status: "done" }]);
  });

  it("understands the beta names", () => {
    expect(
      run([
        { type: "response.audio_transcript.delta", item_id: "a1", delta: "Hi" },
        { type: "response.audio_transcript.done", item_id: "a1", transcript: "Hi." },
        { type: "response.text.delta", item_id: "a2", delta: "Text" },
        { type: "response.text.done", item_id: "a2", text: "Text reply" },
        { type: "conversation.item.created", item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "typed" }] } },
      ]),
    ).toEqual([
      { role: "assistant", text: "Hi.", status: "done" },
      { role: "assistant", text: "Text reply", status: "done" },
      { role: "user", text: "typed", status: "done" },
    ]);
  });

  it("streams text responses (GA output_text)", () => {
    expect(
      run([
        { type: "response.output_text.delta", item_id: "a1", delta: "one " },
        { type: "response.output_text.delta", item_id: "a1", delta: "two" },
        { type: "response.output_text.done", item_id: "a1", text: "one two" },
      ]),
    ).toEqual([{ role: "assistant", text: "one two", status: "done" }]);
  });

  it("keeps a late user transcription above the answer it prompted", () => {
    expect(
      run([
        userAudioItem("u1"),
        { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Answer" },
        { type: "response.output_audio_transcript.done", item_id: "a1", transcript: "Answer." },
        { type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "Quest" },
        { type: "conversation.item.input_audio_transcription.completed", item_id: "u1", transcript: "Question?" },
      ]),
    ).toEqual([
      { role: "user", text: "Question?", status: "done" },
      { role: "assistant", text: "Answer.", status: "done" },
    ]);
  });

  it("shows typed user messages from the item events", () => {
    expect(
      run([
        {
          type: "conversation.item.added",
          item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: "Hello <b>there</b>" }] },
        },
      ]),
    ).toEqual([{ role: "user", text: "Hello <b>there</b>", status: "done" }]);
  });

  it("marks an assistant turn interrupted by truncation, and a later done does not undo it", () => {
    expect(
      run([
        { type: "response.output_audio_transcript.delta", response_id: "r1", item_id: "a1", delta: "A long answ" },
        { type: "conversation.item.truncated", item_id: "a1", content_index: 0, audio_end_ms: 800 },
        { type: "response.output_audio_transcript.delta", response_id: "r1", item_id: "a1", delta: "er" },
        { type: "response.output_audio_transcript.done", response_id: "r1", item_id: "a1", transcript: "A long answer" },
      ]),
    ).toEqual([{ role: "assistant", text: "A long answer", status: "interrupted" }]);
  });

  it("settles streaming turns from response.done: cancelled -> interrupted, completed -> done", () => {
    const t = new Transcript();
    run(
      [
        { type: "response.output_audio_transcript.delta", response_id: "r1", item_id: "a1", delta: "Cut" },
        { type: "response.done", response: { id: "r1", status: "cancelled", output: [{ id: "a1" }] } },
        { type: "response.output_text.delta", response_id: "r2", item_id: "a2", delta: "Whole" },
        { type: "response.done", response: { id: "r2", status: "completed", output: [] } },
      ],
      t,
    );
    expect(t.list().map((e) => e.status)).toEqual(["interrupted", "done"]);
  });

  it("records a failed user transcription", () => {
    expect(
      run([userAudioItem("u1"), { type: "conversation.item.input_audio_transcription.failed", item_id: "u1", error: {} }]),
    ).toEqual([{ role: "user", text: "", status: "failed" }]);
  });

  it("reports whether an event changed anything, and bumps revisions", () => {
    const t = new Transcript();
    expect(t.apply({ type: "input_audio_buffer.speech_started" })).toBe(false);
    expect(t.apply({ type: "response.output_text.delta", item_id: "a1", delta: "x" })).toBe(true);
    const revision = t.list()[0]!.revision;
    expect(t.apply({ type: "response.output_text.delta", item_id: "a1", delta: "" })).toBe(false);
    expect(t.apply({ type: "response.output_text.delta", item_id: "a1", delta: "y" })).toBe(true);
    expect(t.list()[0]!.revision).toBe(revision + 1);
  });

  it("ignores events without an item id and non-message items", () => {
    expect(
      run([
        { type: "response.output_text.delta", delta: "orphan" },
        { type: "conversation.item.added", item: { id: "f1", type: "function_call", name: "x" } },
        { type: "conversation.item.added", item: { id: "s1", type: "message", role: "system", content: [] } },
      ]),
    ).toEqual([]);
  });

  it("keeps at most `capacity` entries, dropping the oldest", () => {
    const t = new Transcript(3);
    for (let i = 0; i < 5; i++) t.apply({ type: "response.output_text.done", item_id: `a${i}`, text: `t${i}` });
    expect(t.list().map((e) => e.text)).toEqual(["t2", "t3", "t4"]);
    // An evicted item that speaks again comes back at the end.
    t.apply({ type: "response.output_text.delta", item_id: "a0", delta: "again" });
    expect(t.list().map((e) => e.text)).toEqual(["t3", "t4", "again"]);
  });
});
