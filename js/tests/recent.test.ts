import { describe, expect, it } from "vitest";
import type { OutgoingRecord } from "../src/protocol";
import { RecentEvents, parseFilter, summarize } from "../src/recent";

const rec = (type: string, extra: Record<string, unknown> = {}, source: OutgoingRecord["source"] = "server"): OutgoingRecord => ({
  source,
  t_browser_ms: 0,
  event: { type, ...extra },
});

describe("RecentEvents", () => {
  it("keeps the newest rows within capacity and numbers them", () => {
    const recent = new RecentEvents(10);
    for (let i = 0; i < 100; i++) recent.add(rec(`t.${i}`));
    const all = recent.latest(() => true, 1000);
    expect(all.length).toBeLessThanOrEqual(13);
    expect(all.at(-1)!.type).toBe("t.99");
    expect(recent.lastSeq).toBe(99);
    expect(recent.after(96, () => true, 10).map((r) => r.type)).toEqual(["t.97", "t.98", "t.99"]);
  });

  it("returns the newest matching rows, oldest first", () => {
    const recent = new RecentEvents();
    for (const type of ["a.delta", "b", "a.done", "c", "a.delta"]) recent.add(rec(type));
    expect(recent.latest(parseFilter("a."), 2).map((r) => r.type)).toEqual(["a.done", "a.delta"]);
  });
});

describe("parseFilter", () => {
  const row = (type: string, source: "server" | "client" | "widget" = "server") => ({ seq: 0, t: 0, source, type, summary: "" });

  it("matches any term, case-insensitively, and excludes -terms", () => {
    const f = parseFilter("Response -delta, session");
    expect(f(row("response.done"))).toBe(true);
    expect(f(row("response.output_audio_transcript.delta"))).toBe(false);
    expect(f(row("session.created"))).toBe(true);
    expect(f(row("input_audio_buffer.committed"))).toBe(false);
  });

  it("passes everything when empty, and filters by source name", () => {
    expect(parseFilter("  ")(row("x"))).toBe(true);
    expect(parseFilter("-delta")(row("x"))).toBe(true);
    expect(parseFilter("client")(row("response.create", "client"))).toBe(true);
  });
});

describe("summarize", () => {
  it("shows the interesting part of common events, on one short line", () => {
    expect(summarize({ type: "response.output_audio_transcript.delta", delta: "Hi\nthere" })).toBe('"Hi\\nthere"');
    expect(summarize({ type: "error", error: { message: "Bad thing" } })).toBe("Bad thing");
    expect(summarize({ type: "widget.state", state: "failed", reason: "ICE" })).toBe("failed — ICE");
    expect(summarize({ type: "widget.phase", phase: "answer_received", call_id: "rtc_1" })).toBe("answer_received rtc_1");
    expect(summarize({ type: "response.done", response: { status: "completed" } })).toBe("completed");
    expect(summarize({ type: "x", delta: "y".repeat(1000) }).length).toBeLessThanOrEqual(140);
  });
});
