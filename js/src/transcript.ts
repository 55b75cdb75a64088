// The live transcript: user and assistant turns reduced from server events.
//
// Entries are keyed by conversation item id and kept in the order their items first appeared, so a
// user's input transcription that arrives after the assistant's answer (it can) still lands above
// it. GA event names and the beta names still seen in the wild are both understood.
import { isRecord } from "./errors";
import type { RealtimeEvent } from "./protocol";

export type Role = "user" | "assistant";
export type EntryStatus = "streaming" | "done" | "interrupted" | "failed";

export interface TranscriptEntry {
  readonly key: string;
  readonly role: Role;
  text: string;
  status: EntryStatus;
  /** The response that produced an assistant entry, to settle it on `response.done`. */
  responseId: string | null;
  /** Bumped on every change, so a view can skip entries it already shows. */
  revision: number;
}

const ASSISTANT_DELTA = new Set([
  "response.output_audio_transcript.delta",
  "response.output_text.delta",
  "response.audio_transcript.delta", // beta
  "response.text.delta", // beta
]);
const ASSISTANT_DONE: Record<string, "transcript" | "text"> = {
  "response.output_audio_transcript.done": "transcript",
  "response.output_text.done": "text",
  "response.audio_transcript.done": "transcript", // beta
  "response.text.done": "text", // beta
};
const ITEM_EVENTS = new Set([
  "conversation.item.added",
  "conversation.item.done",
  "conversation.item.created", // beta
  "conversation.item.retrieved",
]);

export class Transcript {
  private readonly entries: TranscriptEntry[] = [];
  private readonly byKey = new Map<string, TranscriptEntry>();
  /** Bumped on every change to any entry. */
  revision = 0;

  constructor(private readonly capacity = 200) {}

  list(): readonly TranscriptEntry[] {
    return this.entries;
  }

  clear(): void {
    if (this.entries.length === 0) return;
    this.entries.length = 0;
    this.byKey.clear();
    this.revision += 1;
  }

  /** Applies one server event; returns whether the transcript changed. */
  apply(event: RealtimeEvent): boolean {
    const before = this.revision;
    const type = event.type;
    if (type === "conversation.item.input_audio_transcription.delta") {
      const entry = this.entry(str(event.item_id), "user");
      if (entry && entry.status === "streaming") this.update(entry, entry.text + str(event.delta));
    } else if (type === "conversation.item.input_audio_transcription.completed") {
      const entry = this.entry(str(event.item_id), "user");
      if (entry) this.update(entry, str(event.transcript), "done");
    } else if (type === "conversation.item.input_audio_transcription.failed") {
      const entry = this.entry(str(event.item_id), "user");
      if (entry) this.update(entry, entry.text, "failed");
    } else if (ASSISTANT_DELTA.has(type)) {
      const entry = this.entry(str(event.item_id), "assistant", str(event.response_id));
      if (entry && entry.status === "streaming") this.update(entry, entry.text + str(event.delta));
    } else if (type in ASSISTANT_DONE) {
      const entry = this.entry(str(event.item_id), "assistant", str(event.response_id));
      // A done event carries the whole text; an interrupted entry keeps its status.
      if (entry) this.update(entry, str(event[ASSISTANT_DONE[type]!]) || entry.text, settle(entry.status, "done"));
    } else if (ITEM_EVENTS.has(type)) {
      this.applyItem(event.item);
    } else if (type === "conversation.item.truncated") {
      // The user spoke over the assistant: its audio (and transcript) were cut.
      const entry = this.byKey.get(str(event.item_id));
      if (entry && entry.role === "assistant") this.update(entry, entry.text, "interrupted");
    } else if (type === "response.done") {
      this.applyResponseDone(event.response);
    }
    return this.revision !== before;
  }

  private applyItem(item: unknown): void {
    if (!isRecord(item) || item.type !== "message") return;
    const role = item.role;
    if (role !== "user" && role !== "assistant") return;
    const id = str(item.id);
    // Created even when empty: it fixes the entry's place in the conversation.
    const entry = this.entry(id, role);
    if (!entry || !Array.isArray(item.content)) return;
    let text = "";
    let complete = item.status === "completed" || role === "user";
    for (const part of item.content) {
      if (!isRecord(part)) continue;
      if (part.type === "input_text" || part.type === "text" || part.type === "output_text") {
        text += str(part.text);
      } else if (typeof part.transcript === "string") {
        text += part.transcript;
      } else if (part.type === "input_audio" || part.type === "audio" || part.type === "output_audio") {
        complete = false; // the transcript, if any, comes in its own events
      }
    }
    if (text !== "") this.update(entry, text, complete ? settle(entry.status, "done") : entry.status);
  }

  private applyResponseDone(response: unknown): void {
    if (!isRecord(response)) return;
    const status = response.status;
    const outcome: EntryStatus = status === "completed" ? "done" : status === "failed" ? "failed" : "interrupted";
    const ids = new Set<string>();
    if (Array.isArray(response.output)) {
      for (const item of response.output) if (isRecord(item) && typeof item.id === "string") ids.add(item.id);
    }
    const responseId = str(response.id);
    for (const entry of this.entries) {
      if (entry.role !== "assistant" || entry.status !== "streaming") continue;
      if (ids.has(entry.key) || (responseId !== "" && entry.responseId === responseId)) {
        this.update(entry, entry.text, outcome);
      }
    }
  }

  /** The entry for an item, created at the end if new. Null when the event names no item. */
  private entry(key: string, role: Role, responseId = ""): TranscriptEntry | null {
    if (key === "") return null;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { key, role, text: "", status: "streaming", responseId: responseId || null, revision: 0 };
      this.byKey.set(key, entry);
      this.entries.push(entry);
      this.revision += 1;
      this.evictOverflow();
    } else if (responseId && !entry.responseId) {
      entry.responseId = responseId;
    }
    return entry;
  }

  private update(entry: TranscriptEntry, text: string, status: EntryStatus = entry.status): void {
    if (entry.text === text && entry.status === status) return;
    entry.text = text;
    entry.status = status;
    entry.revision += 1;
    this.revision += 1;
  }

  private evictOverflow(): void {
    const excess = this.entries.length - this.capacity;
    if (excess <= 0) return;
    for (const old of this.entries.splice(0, excess)) this.byKey.delete(old.key);
  }
}

/** A finished entry stays as it ended: "interrupted" or "failed" are not overwritten by "done". */
function settle(current: EntryStatus, next: EntryStatus): EntryStatus {
  return current === "interrupted" || current === "failed" ? current : next;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}
