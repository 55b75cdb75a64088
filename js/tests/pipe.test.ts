import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_RESEND_AFTER_MS, EventPipe } from "../src/pipe";
import type { OutgoingRecord } from "../src/protocol";

function record(n: number, payload = ""): OutgoingRecord {
  return { source: "server", t_browser_ms: 1000 + n, event: { type: "test.event", event_id: `evt_${n}`, payload } };
}

/** Lets the current task end: the pipe's end-of-task flush runs. */
const endOfTask = () => Promise.resolve();

/** Each record in a task of its own, as data-channel messages arrive. */
async function pushEach(pipe: EventPipe, records: OutgoingRecord[]): Promise<void> {
  for (const r of records) {
    pipe.push(r);
    await endOfTask();
  }
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => record(from + i));

function harness(options: { maxBatchChars?: number; maxBatchRecords?: number; maxInFlight?: number } = {}) {
  const sent: { batch: number; records: OutgoingRecord[] }[] = [];
  const pipe = new EventPipe({ send: (batch, records) => sent.push({ batch, records }), ...options });
  const ids = () => sent.flatMap((b) => b.records.map((r) => r.event.event_id));
  return { pipe, sent, ids };
}

describe("EventPipe", () => {
  it("sends the first record of a task at once, alone", () => {
    const { pipe, sent } = harness();
    pipe.push(record(0));
    expect(sent).toEqual([{ batch: 0, records: [record(0)] }]);
    expect(pipe.batchInFlight).toBe(0);
  });

  it("sends what the rest of the task pushed together, when the task ends", async () => {
    const { pipe, sent } = harness();
    for (const r of range(4)) pipe.push(r);
    expect(sent.map((b) => b.records.length)).toEqual([1]);
    await endOfTask();
    expect(sent).toEqual([
      { batch: 0, records: [record(0)] },
      { batch: 1, records: [record(1), record(2), record(3)] },
    ]);
  });

  it("holds records without sending until released, then sends them as one batch, in order", async () => {
    const { pipe, sent, ids } = harness();
    pipe.push(record(0));
    pipe.hold();
    await pushEach(pipe, range(3, 1));
    expect(ids()).toEqual(["evt_0"]);
    expect(pipe.queued).toBe(3);
    pipe.ack(0); // an ack does not release a hold either
    expect(sent).toHaveLength(1);
    pipe.release();
    expect(sent[1]).toEqual({ batch: 1, records: [1, 2, 3].map((i) => record(i)) });
    expect(pipe.isHeld).toBe(false);
    pipe.release(); // twice is harmless
    expect(sent).toHaveLength(2);
  });

  it("queues while the window is full and sends the whole queue on ack", async () => {
    const { pipe, sent } = harness({ maxInFlight: 1 });
    await pushEach(pipe, range(5));
    expect(sent).toHaveLength(1);
    expect(pipe.queued).toBe(4);
    expect(pipe.ack(0)).toBe(true);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ batch: 1, records: [1, 2, 3, 4].map((i) => record(i)) });
    expect(pipe.queued).toBe(0);
  });

  it("keeps at most maxInFlight batches in flight", async () => {
    const { pipe, sent } = harness({ maxInFlight: 2 });
    await pushEach(pipe, range(5));
    expect(sent.map((b) => b.records.length)).toEqual([1, 1]);
    expect(pipe.batchesInFlight).toBe(2);
    pipe.ack(0);
    expect(sent.map((b) => b.records.length)).toEqual([1, 1, 3]); // the whole queue, together
    await pushEach(pipe, [record(5)]); // batches 1 and 2 are in flight: waits
    expect(sent).toHaveLength(3);
    pipe.ack(1);
    expect(sent.map((b) => b.batch)).toEqual([0, 1, 2, 3]);
  });

  it("by default lets records that come one at a time leave at once, up to the window", async () => {
    const { pipe, sent } = harness();
    await pushEach(pipe, range(DEFAULT_MAX_IN_FLIGHT));
    expect(sent).toHaveLength(DEFAULT_MAX_IN_FLIGHT);
    expect(pipe.queued).toBe(0);
    await pushEach(pipe, [record(DEFAULT_MAX_IN_FLIGHT)]);
    expect(pipe.queued).toBe(1);
    expect(pipe.batchInFlight).toBe(0); // the next ack expected is the oldest batch's
  });

  it("returns to idle after the last ack, so the next record leaves at once", async () => {
    const { pipe, sent } = harness();
    pipe.push(record(0));
    pipe.ack(0);
    expect(pipe.batchInFlight).toBeNull();
    await endOfTask();
    pipe.push(record(1));
    expect(sent).toHaveLength(2);
  });

  it("ignores acks for other batches (duplicates, stale pages)", async () => {
    const { pipe, sent } = harness();
    await pushEach(pipe, range(2));
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

  it("never drops: a kernel that does not ack only makes the queue grow", async () => {
    const { pipe, sent, ids } = harness();
    await pushEach(pipe, range(20_000));
    expect(sent).toHaveLength(DEFAULT_MAX_IN_FLIGHT);
    expect(pipe.queued).toBe(20_000 - DEFAULT_MAX_IN_FLIGHT);
    // The kernel comes back and acks each batch as it arrives.
    while (pipe.batchInFlight !== null) pipe.ack(pipe.batchInFlight);
    expect(ids()).toEqual(Array.from({ length: 20_000 }, (_, i) => `evt_${i}`));
  });

  it("splits by record count", async () => {
    const { pipe, sent, ids } = harness({ maxBatchRecords: 3, maxInFlight: 1 });
    await pushEach(pipe, range(8));
    while (pipe.batchInFlight !== null) pipe.ack(pipe.batchInFlight);
    expect(sent.map((b) => b.records.length)).toEqual([1, 3, 3, 1]);
    expect(ids()).toEqual(Array.from({ length: 8 }, (_, i) => `evt_${i}`));
  });

  it("splits by JSON size, and sends an oversized record alone rather than dropping it", async () => {
    const size = JSON.stringify(record(0, "x".repeat(100))).length;
    const { pipe, sent, ids } = harness({ maxBatchChars: size * 2 + 10, maxInFlight: 1 });
    await pushEach(pipe, [
      ...Array.from({ length: 6 }, (_, i) => record(i, "x".repeat(100))),
      record(6, "y".repeat(10 * size)), // bigger than a whole batch
      record(7, "x".repeat(100)),
    ]);
    while (pipe.batchInFlight !== null) pipe.ack(pipe.batchInFlight);
    expect(sent.map((b) => b.records.length)).toEqual([1, 2, 2, 1, 1, 1]);
    expect(sent[4]!.records[0]!.event.event_id).toBe("evt_6");
    expect(ids()).toEqual(Array.from({ length: 8 }, (_, i) => `evt_${i}`));
    for (const batch of sent) {
      if (batch.records.length > 1) expect(JSON.stringify(batch.records).length).toBeLessThanOrEqual(size * 2 + 10 + 3);
    }
  });

  it("keeps records queued when the comm refuses a batch, and retries in order", async () => {
    let refuse = true;
    const sent: OutgoingRecord[][] = [];
    const pipe = new EventPipe({
      send: (_batch, records) => {
        if (refuse) throw new Error("comm closed");
        sent.push(records);
      },
    });
    expect(() => pipe.push(record(0))).toThrow("comm closed");
    await endOfTask(); // the end-of-task retry fails quietly too
    expect(pipe.batchInFlight).toBeNull();
    expect(pipe.queued).toBe(1);
    refuse = false;
    pipe.push(record(1));
    expect(sent).toEqual([[record(0), record(1)]]);
  });

  it("numbers batches consecutively from 0", async () => {
    const { pipe, sent } = harness();
    for (let round = 0; round < 4; round++) {
      pipe.push(record(round));
      pipe.ack(round);
      await endOfTask();
    }
    expect(sent.map((b) => b.batch)).toEqual([0, 1, 2, 3]);
  });

  describe("when an ack is late", () => {
    afterEach(() => vi.useRealTimers());

    it("resends the oldest unacknowledged batch, waiting twice as long each time", () => {
      vi.useFakeTimers();
      const { pipe, sent } = harness();
      pipe.push(record(0));
      vi.advanceTimersByTime(DEFAULT_RESEND_AFTER_MS - 1);
      expect(sent).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toEqual(sent[0]); // the same batch, same number: the kernel logs it once
      vi.advanceTimersByTime(2 * DEFAULT_RESEND_AFTER_MS);
      expect(sent).toHaveLength(3);
      pipe.ack(0);
      vi.advanceTimersByTime(60_000);
      expect(sent).toHaveLength(3);
      expect(pipe.acknowledged).toBe(1);
    });

    it("stops resending once closed", () => {
      vi.useFakeTimers();
      const { pipe, sent } = harness();
      pipe.push(record(0));
      pipe.close();
      vi.advanceTimersByTime(60_000);
      expect(sent).toHaveLength(1);
    });
  });

  it("names itself, so that a page takes only its own acks", () => {
    expect(new EventPipe({ send: () => {} }).id).toMatch(/^pipe_[0-9a-f]{16}$/);
    expect(new EventPipe({ send: () => {} }).id).not.toBe(new EventPipe({ send: () => {} }).id);
  });
});
