// The synced traits of rt_widget.RealtimeWidget, as the front end sees them.
import type { AnyModel } from "@anywidget/types";
import type { WidgetState } from "./protocol";

export type Signaling = "client_secret" | "relay";
export type Backend = "openai" | "emulator" | "custom";

export interface WidgetTraits {
  /** Written by the front end. */
  state: WidgetState;
  /** Written by the front end: the last user-facing error, "" when none. */
  error: string;
  /** Written by both sides; the front end applies it to the mic track. */
  muted: boolean;
  /** Written by the kernel. */
  signaling: Signaling;
  backend: Backend;
  backend_url: string;
  /** Written by the kernel: the latest tool call's status ("running get_weather…"). */
  tool_status: string;
}

export type Model = AnyModel<WidgetTraits>;

/**
 * What the panel shows: the synced traits and the current call's latest phase. The phase is not
 * synced: the kernel sets its own `w.phase` from the `widget.phase` records it logs, which saves
 * a comm message (and a kernel busy/idle round) per step of every call setup.
 */
export interface PanelTraits extends WidgetTraits {
  phase: string;
}
