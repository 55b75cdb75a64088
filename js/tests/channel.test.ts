import { describe, expect, it } from "vitest";
import { MALFORMED_RAW_CHARS, decodeServerMessage, encodeClientEvent } from "../src/channel";

describe("decodeServerMessage", () => {
  it("parses an event", () => {
    expect(decodeServerMessage('{"type":"session.created","event_id":"e1"}')).toEqual({
      ok: true,
      event: { type: "session.created", event_id: "e1" },
    });
  });

  it("reports broken JSON with the raw text, truncated", () => {
    const raw = `{"type":"response.output_audio_transcript.delta","delta":"${"x".repeat(5000)}`;
    const decoded = decodeServerMessage(raw);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.raw.startsWith(raw.slice(0, MALFORMED_RAW_CHARS))).toBe(true);
    expect(decoded.raw.length).toBeLessThan(MALFORMED_RAW_CHARS + 50);
  });

  it("rejects JSON that is not an event object", () => {
    for (const text of ["[1,2]", "42", "null", '{"no_type":1}', '{"type":3}']) {
      expect(decodeServerMessage(text).ok).toBe(false);
    }
  });

  it("reports binary messages", () => {
    const decoded = decodeServerMessage(new ArrayBuffer(12));
    expect(decoded).toMatchObject({ ok: false, raw: "<binary message, 12 bytes>" });
  });
});

describe("encodeClientEvent", () => {
  it("serialises an event", () => {
    expect(encodeClientEvent({ type: "response.create" })).toBe('{"type":"response.create"}');
  });

  it("refuses an event too large for the data channel (it would close the channel)", () => {
    const big = { type: "conversation.item.create", text: "é".repeat(100_000) }; // 200 kB of UTF-8
    expect(() => encodeClientEvent(big, 150_000)).toThrow(/not sent/);
    expect(encodeClientEvent(big, 300_000).length).toBeGreaterThan(100_000);
  });
});
