import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_IN_FLIGHT, EventPipe } from "../src/pipe";
import type { OutgoingRecord } from "../src/protocol";

function record(n: number, payload = ""): OutgoingRecord {
  return { source: "server", t_browser_ms: 1000 + n, event: { type: "test.event", event_id: `evt_${n}`, payload } };
}

function harness(options: { maxBatchChars?: number; maxBatchRecords?: number; maxInFlight?: number } = {}) {
  const sent: { batch: number; records: OutgoingRecord[] }[] = [];
  const pipe = new EventPipe({ send: (batch, records) => sent.push({ batch, records }), ...options });
  const ids = () => sent.flatMap((b) => b.records.map((r) => r.event.event_id));
  return { pipe, sent, ids };
}

describe("EventPipe", () => {
  it("sends the first record at once, alone", () => {
    const { pipe, sent } = harness();
    pipe.push(record(0));
    expect(sent).toEqual([{ batch: 0, records: [record(0)] }]);
    expect(pipe.batchInFlight).toBe(0);
  });

  it("queues while the window is full and sends the whole queue on ack", () => {
    const { pipe, sent } = harness({ maxInFlight: 1 });
    for (let i = 0; i < 5; i++) pipe.push(record(i));
    expect(sent).toHaveLength(1);
    expect(pipe.queued).toBe(4);
    expect(pipe.ack(0)).toBe(true);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ batch: 1, records: [1, 2, 3, 4].map((i) => record(i)) });
    expect(pipe.queued).toBe(0);
  });

  it("keeps at most maxInFlight batches in flight", () => {
    const { pipe, sent } = harness({ maxInFlight: 2 });
    for (let i = 0; i < 5; i++) pipe.push(record(i));
    expect(sent.map((b) => b.records.length)).toEqual([1, 1]);
    expect(pipe.batchesInFlight).toBe(2);
    pipe.ack(0);
    expect(sent.map((b) => b.records.length)).toEqual([1, 1, 3]); // the whole queue, together
    pipe.push(record(5)); // batches 1 and 2 are in flight: waits
    expect(sent).toHaveLength(3);
    pipe.ack(1);
    expect(sent.map((b) => b.batch)).toEqual([0, 1, 2, 3]);
  });

  it("by default lets records that come one at a time leave at once, up to the window", () => {
    const { pipe, sent } = harness();
    for (let i = 0; i < DEFAULT_MAX_IN_FLIGHT; i++) pipe.push(record(i));
    expect(sent).toHaveLength(DEFAULT_MAX_IN_FLIGHT);
    expect(pipe.queued).toBe(0);
    pipe.push(record(DEFAULT_MAX_IN_FLIGHT));
    expect(pipe.queued).toBe(1);
    expect(pipe.batchInFlight).toBe(0); // the next ack expected is the oldest batch's
  });

  it("returns to idle after the last ack, so the next record leaves at once", () => {
    const { pipe, sent } = harness();
    pipe.push(record(0));
    pipe.ack(0);
    expect(pipe.batchInFlight).toBeNull();
    pipe.push(record(1));
    expect(sent).toHaveLength(2);
  });

  it("ignores acks for other batches (duplicates, stale pages)", () => {
    const { pipe, sent } = harness();
    pipe.push(record(0));
    pipe.push(record(1));
    expect(pipe.ack(7)).toBe(false);
    expect(pipe.ack(-1)).toBe(false);
    expect(pipe.ack(1)).toBe(false); // out of order: the kernel acknowledges oldest first
    expect(pipe.acknowledged).toBe(0);
    expect(pipe.ack(0)).toBe(true);
    expect(pipe.ack(0)).toBe(false);
    expect(pipe.acknowledged).toBe(1);
    expect(pipe.ack(1)).toBe(true);
    expect(pipe.acknowledged).toBe(2);
    expect(sent).toHaveLength(2);
  });

  it("never drops: a kernel that does not ack only makes the queue grow", () => {
    const { pipe, sent, ids } = harness();
    for (let i = 0; i < 20_000; i++) pipe.push(record(i));
    expect(sent).toHaveLength(DEFAULT_MAX_IN_FLIGHT);
    expect(pipe.queued).toBe(20_000 - DEFAULT_MAX_IN_FLIGHT);
    // The kernel comes back and acks each batch as it arrives.
    while (pipe.batchInFlight !== null) pipe.ack(pipe.batchInFlight);
    expect(ids()).toEqual(Array.from({ length: 20_000 }, (_, i) => `evt_${i}`));
  });

  it("splits by record count", () => {
    const { pipe, sent, ids } = harness({ maxBatchRecords: 3, maxInFlight: 1 });
    for (let i = 0; i < 8; i++) pipe.push(record(i));
    while (pipe.batchInFlight !== null) pipe.ack(pipe.batchInFlight);
    expect(sent.map((b) => b.records.length)).toEqual([1, 3, 3, 1]);
    expect(ids()).toEqual(Array.from({ length: 8 }, (_, i) => `evt_${i}`));
  });

  it("splits by JSON size, and sends an oversized record alone rather than dropping it", () => {
    const size = JSON.stringify(record(0, "x".repeat(100))).length;
    const { pipe, sent, ids } = harness({ maxBatchChars: size * 2 + 10, maxInFlight: 1 });
    pipe.push(record(0, "x".repeat(100)));
    for (let i = 1; i < 6; i++) pipe.push(record(i, "x".repeat(100)));
    pipe.push(record(6, "y".repeat(10 * size))); // bigger than a whole batch
    pipe.push(record(7, "x".repeat(100)));
    while (pipe.batchInFlight !== null) pipe.ack(pipe.batchInFlight);
    expect(sent.map((b) => b.records.length)).toEqual([1, 2, 2, 1, 1, 1]);
    expect(sent[4]!.records[0]!.event.event_id).toBe("evt_6");
    expect(ids()).toEqual(Array.from({ length: 8 }, (_, i) => `evt_${i}`));
    for (const batch of sent) {
      if (batch.records.length > 1) expect(JSON.stringify(batch.records).length).toBeLessThanOrEqual(size * 2 + 10 + 3);
    }
  });

  it("keeps records queued when the comm refuses a batch, and retries in order", () => {
    let refuse = true;
    const sent: OutgoingRecord[][] = [];
    const pipe = new EventPipe({
      send: (_batch, records) => {
        if (refuse) throw new Error("comm closed");
        sent.push(records);
      },
    });
    expect(() => pipe.push(record(0))).toThrow("comm closed");
    expect(pipe.batchInFlight).toBeNull();
    expect(pipe.queued).toBe(1);
    refuse = false;
    pipe.push(record(1));
    expect(sent).toEqual([[record(0), record(1)]]);
  });

  it("numbers batches consecutively from 0", () => {
    const { pipe, sent } = harness();
    for (let round = 0; round < 4; round++) {
      pipe.push(record(round));
      pipe.ack(round);
    }
    expect(sent.map((b) => b.batch)).toEqual([0, 1, 2, 3]);
  });
});
