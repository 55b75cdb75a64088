// One `widget.stats` sample from an RTCPeerConnection.getStats() report.
import type { StatsSample } from "./protocol";

type StatsEntry = Record<string, unknown> & { type?: unknown };

/** What we need of an RTCStatsReport (a read-only map of id -> stats dictionary). */
export interface StatsReportLike {
  forEach(callback: (value: StatsEntry, key: string) => void): void;
  get(key: string): StatsEntry | undefined;
}

export function extractStats(report: StatsReportLike): StatsSample {
  let transport: StatsEntry | undefined;
  let flaggedPair: StatsEntry | undefined;
  let nominatedPair: StatsEntry | undefined;
  let inbound: StatsEntry | undefined;
  let outbound: StatsEntry | undefined;
  let source: StatsEntry | undefined;
  let remoteInbound: StatsEntry | undefined;

  report.forEach((entry) => {
    switch (entry.type) {
      case "transport":
        transport ??= entry;
        break;
      case "candidate-pair":
        if (entry.selected === true) flaggedPair = entry; // Firefox's flag
        if (entry.nominated === true && entry.state === "succeeded") nominatedPair ??= entry;
        break;
      case "inbound-rtp":
        if (isAudio(entry)) inbound ??= entry;
        break;
      case "outbound-rtp":
        if (isAudio(entry)) outbound ??= entry;
        break;
      case "media-source":
        if (isAudio(entry)) source ??= entry;
        break;
      case "remote-inbound-rtp":
        if (isAudio(entry)) remoteInbound ??= entry;
        break;
    }
  });

  const selectedId = typeof transport?.selectedCandidatePairId === "string" ? transport.selectedCandidatePairId : null;
  const pair = (selectedId ? report.get(selectedId) : undefined) ?? flaggedPair ?? nominatedPair;

  const pairRtt = num(pair?.currentRoundTripTime);
  const rtpRtt = num(remoteInbound?.roundTripTime);
  const rttSeconds = pairRtt ?? rtpRtt;

  const bufferDelay = num(inbound?.jitterBufferDelay);
  const emitted = num(inbound?.jitterBufferEmittedCount);
  const jitterSeconds = num(inbound?.jitter);

  return {
    rtt_ms: rttSeconds === null ? null : round(rttSeconds * 1000),
    jitter_ms: jitterSeconds === null ? null : round(jitterSeconds * 1000),
    packets_lost: num(inbound?.packetsLost),
    packets_received: num(inbound?.packetsReceived),
    packets_sent: num(outbound?.packetsSent),
    bytes_sent: num(outbound?.bytesSent),
    bytes_received: num(inbound?.bytesReceived),
    audio_level_in: roundOrNull(num(source?.audioLevel)),
    audio_level_out: roundOrNull(num(inbound?.audioLevel)),
    // jitterBufferDelay is cumulative seconds over all emitted samples: the mean delay per sample.
    jitter_buffer_ms: bufferDelay !== null && emitted ? round((bufferDelay / emitted) * 1000) : null,
    concealed_samples: num(inbound?.concealedSamples),
    available_outgoing_bitrate: num(pair?.availableOutgoingBitrate),
  };
}

function isAudio(entry: StatsEntry): boolean {
  return (entry.kind ?? entry.mediaType) === "audio";
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : round(value);
}
