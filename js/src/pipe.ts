// The event pipe to the kernel: every record, in order, nothing dropped, without clogging the comm.
//
// Measured (../../shared/FACTS.md): one comm message per event costs a kernel busy/idle round and
// clogs the page during bursts, while a fixed "collect for 20 ms" timer adds latency to events that
// arrive one at a time. So: a record that finds the pipe idle leaves at once; records that arrive
// while a batch is unacknowledged queue up and leave together when the kernel acknowledges it.
// Exactly one batch is in flight. A kernel busy running a cell acknowledges late, so the queue
// grows and nothing is lost.
import type { OutgoingRecord } from "./protocol";

export interface PipeOptions {
  /** Hands one batch to the comm. May throw (closed comm); the batch then stays queued. */
  send(batch: number, records: OutgoingRecord[]): void;
  /** A batch holds at most this many characters of JSON (one larger record travels alone). */
  maxBatchChars?: number;
  /** ... and at most this many records. */
  maxBatchRecords?: number;
}

interface Queued {
  record: OutgoingRecord;
  /** Length of the record's JSON, measured once, when it is first considered for a batch. */
  chars: number;
}

export const DEFAULT_MAX_BATCH_CHARS = 512 * 1024;
export const DEFAULT_MAX_BATCH_RECORDS = 4000;

export class EventPipe {
  private readonly queue: Queued[] = [];
  private inFlight: number | null = null;
  private inFlightRecords = 0;
  private nextBatch = 0;
  private pushedRecords = 0;
  private acknowledgedRecords = 0;
  private readonly maxChars: number;
  private readonly maxRecords: number;

  constructor(private readonly options: PipeOptions) {
    this.maxChars = options.maxBatchChars ?? DEFAULT_MAX_BATCH_CHARS;
    this.maxRecords = Math.max(1, options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS);
  }

  /** Records waiting for the in-flight batch to be acknowledged. */
  get queued(): number {
    return this.queue.length;
  }

  /** The number of the unacknowledged batch, or null when the pipe is idle. */
  get batchInFlight(): number | null {
    return this.inFlight;
  }

  /** Records pushed so far: the next record pushed is record number `pushed`. */
  get pushed(): number {
    return this.pushedRecords;
  }

  /** Records the kernel has acknowledged: every record numbered below this is in its log. */
  get acknowledged(): number {
    return this.acknowledgedRecords;
  }

  push(record: OutgoingRecord): void {
    this.queue.push({ record, chars: -1 });
    this.pushedRecords += 1;
    if (this.inFlight === null) this.flush();
  }

  /**
   * The kernel has logged `batch`. Returns false for an ack that does not match the batch in flight
   * (a duplicate, or one meant for an earlier page), which is ignored.
   */
  ack(batch: number): boolean {
    if (batch !== this.inFlight) return false;
    this.inFlight = null;
    this.acknowledgedRecords += this.inFlightRecords;
    this.inFlightRecords = 0;
    this.flush();
    return true;
  }

  /** Sends the next batch if none is in flight; used to retry after `send` threw. */
  flush(): void {
    if (this.inFlight !== null || this.queue.length === 0) return;
    const take = this.batchLength();
    const records = this.queue.slice(0, take).map((q) => q.record);
    const batch = this.nextBatch;
    // The batch counts as in flight only once `send` returned: one that throws stays queued, and
    // the next push or flush() retries it. (An ack cannot arrive during send: the comm is async.)
    this.options.send(batch, records);
    this.nextBatch += 1;
    this.inFlight = batch;
    this.inFlightRecords = take;
    this.queue.splice(0, take);
  }

  /** How many queued records the next batch takes: at least one, within both caps. */
  private batchLength(): number {
    let chars = 0;
    let count = 0;
    const limit = Math.min(this.queue.length, this.maxRecords);
    while (count < limit) {
      const item = this.queue[count]!;
      if (item.chars < 0) item.chars = JSON.stringify(item.record).length;
      if (count > 0 && chars + item.chars > this.maxChars) break;
      chars += item.chars;
      count += 1;
    }
    return count;
  }
}
