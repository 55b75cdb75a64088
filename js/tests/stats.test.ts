import { describe, expect, it } from "vitest";
import { extractStats } from "../src/stats";

// Shaped like Chrome's RTCStatsReport for an audio-only call with a data channel.
function chromeReport(): Map<string, Record<string, unknown>> {
  const entries: Record<string, unknown>[] = [
    { id: "T01", type: "transport", selectedCandidatePairId: "CP1", dtlsState: "connected" },
    { id: "CP0", type: "candidate-pair", state: "failed", nominated: false, currentRoundTripTime: 9 },
    { id: "CP1", type: "candidate-pair", state: "succeeded", nominated: true, currentRoundTripTime: 0.0123, availableOutgoingBitrate: 300000 },
    { id: "SA1", type: "media-source", kind: "audio", audioLevel: 0.25 },
    { id: "OT1", type: "outbound-rtp", kind: "audio", packetsSent: 500, bytesSent: 40000 },
    {
      id: "IT1",
      type: "inbound-rtp",
      kind: "audio",
      jitter: 0.0021,
      packetsLost: 3,
      packetsReceived: 480,
      bytesReceived: 38000,
      audioLevel: 0.5,
      jitterBufferDelay: 24,
      jitterBufferEmittedCount: 480000,
      concealedSamples: 960,
    },
    { id: "RI1", type: "remote-inbound-rtp", kind: "audio", roundTripTime: 0.5 },
    { id: "D1", type: "data-channel", label: "oai-events", messagesReceived: 10 },
  ];
  return new Map(entries.map((e) => [e.id as string, e]));
}

describe("extractStats", () => {
  it("reads the selected pair, the audio RTP streams and the mic source", () => {
    expect(extractStats(chromeReport())).toEqual({
      rtt_ms: 12.3,
      jitter_ms: 2.1,
      packets_lost: 3,
      packets_received: 480,
      packets_sent: 500,
      bytes_sent: 40000,
      bytes_received: 38000,
      audio_level_in: 0.25,
      audio_level_out: 0.5,
      jitter_buffer_ms: 0.05,
      concealed_samples: 960,
      available_outgoing_bitrate: 300000,
    });
  });

  it("falls back to a nominated pair, then to the RTCP round trip time", () => {
    const report = chromeReport();
    report.delete("T01");
    expect(extractStats(report).rtt_ms).toBe(12.3);
    report.delete("CP1");
    const sample = extractStats(report);
    expect(sample.rtt_ms).toBe(500);
    expect(sample.available_outgoing_bitrate).toBeNull();
  });

  it("accepts Firefox's selected flag and mediaType", () => {
    const report = new Map<string, Record<string, unknown>>([
      ["p", { type: "candidate-pair", selected: true, state: "succeeded", currentRoundTripTime: 0.002 }],
      ["i", { type: "inbound-rtp", mediaType: "audio", packetsReceived: 7 }],
    ]);
    const sample = extractStats(report);
    expect(sample.rtt_ms).toBe(2);
    expect(sample.packets_received).toBe(7);
  });

  it("gives null for everything absent, and ignores video", () => {
    const empty = extractStats(new Map());
    expect(Object.values(empty).every((v) => v === null)).toBe(true);
    expect(Object.keys(empty)).toHaveLength(12);
    const video = extractStats(new Map([["v", { type: "inbound-rtp", kind: "video", packetsReceived: 9 }]]));
    expect(video.packets_received).toBeNull();
  });

  it("does not divide by zero for the jitter buffer", () => {
    const report = new Map([["i", { type: "inbound-rtp", kind: "audio", jitterBufferDelay: 0, jitterBufferEmittedCount: 0 }]]);
    expect(extractStats(report).jitter_buffer_ms).toBeNull();
  });
});
