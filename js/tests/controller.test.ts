import { describe, expect, it, vi } from "vitest";
import type { Invoke } from "../src/commands";
import { RealtimeController, SETUP_HOLD_MAX_MS } from "../src/controller";
import { UserFacingError } from "../src/errors";
import type { Model } from "../src/model";
import { DEFAULT_MAX_IN_FLIGHT } from "../src/pipe";
import { FakeCall, FakeModel } from "./fakes";

function setup(traits: ConstructorParameters<typeof FakeModel>[0] = {}, invoke?: (model: FakeModel) => Invoke) {
  const model = new FakeModel(traits);
  const calls: FakeCall[] = [];
  const controller = new RealtimeController({
    model: model as unknown as Model,
    invoke: invoke ? invoke(model) : ((async () => [{ ok: true }, []]) as unknown as Invoke),
    createCall: (options) => {
      const call = new FakeCall(options);
      calls.push(call);
      return call;
    },
  });
  const types = () => {
    model.ackAll();
    return model.records().map((r) => `${r.source}:${r.event.type}${r.event.phase ? `:${r.event.phase}` : ""}${r.event.state ? `:${r.event.state}` : ""}`);
  };
  return { model, controller, calls, types };
}

describe("RealtimeController and the kernel", () => {
  it("says hello first", () => {
    const { model } = setup();
    expect(model.sent[0]).toEqual({ kind: "rt:hello" });
  });

  it("marks a call left over from before a page reload as closed", () => {
    const { model, types } = setup({ state: "connected" });
    expect(model.get("state")).toBe("closed");
    expect(types()).toEqual(["widget:widget.phase:closed", "widget:widget.state:closed"]);
  });

  it("starts one call on rt:connect, however often asked, with phase and state records", () => {
    const { model, controller, calls, types } = setup();
    model.fromKernel({ kind: "rt:connect" });
    model.fromKernel({ kind: "rt:connect" });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.started).toBe(true);
    expect(calls[0]!.options.signaling).toBe("client_secret");
    expect(model.get("state")).toBe("connecting");
    expect(controller.traits().phase).toBe("start");
    // The phase is the kernel's to derive from the records: no trait update for it.
    expect("phase" in model.attributes).toBe(false);
    calls[0]!.open();
    expect(types().slice(0, 2)).toEqual(["widget:widget.phase:start", "widget:widget.state:connecting"]);
  });

  it("holds a call setup's records until it connects, then sends them together, in order", () => {
    const { model, controller, calls, types } = setup();
    const batches = () => (model.sent as { kind: string; records?: unknown[] }[]).filter((m) => m.kind === "rt:events");
    controller.connect("click");
    calls[0]!.options.hooks.phase("offer_created");
    expect(batches()).toHaveLength(0);
    calls[0]!.open();
    expect(batches().map((b) => b.records!.length)).toEqual([5]);
    expect(types()).toEqual([
      "widget:widget.phase:start",
      "widget:widget.state:connecting",
      "widget:widget.phase:offer_created",
      "widget:widget.phase:channel_open",
      "widget:widget.state:connected",
    ]);
  });

  it("lets a setup's records go before the call sends the kernel a command (the kernel logs its own)", async () => {
    const seenByKernel: number[] = [];
    const { controller, calls } = setup(
      { signaling: "relay" },
      (model) =>
        (async () => {
          seenByKernel.push(model.records().length);
          return [{ ok: true }, []];
        }) as unknown as Invoke,
    );
    controller.connect("click");
    await calls[0]!.options.invoke("rt:relay_offer", { sdp: "v=0" });
    expect(seenByKernel).toEqual([2]); // start, connecting: already on their way
  });

  it("releases a setup's records when the call fails, or after SETUP_HOLD_MAX_MS of a slow setup", () => {
    const failing = setup();
    failing.controller.connect("click");
    failing.calls[0]!.end({ state: "failed", reason: "no", error: new UserFacingError("ice_failed", "The network path failed.") });
    expect(failing.types()).toEqual([
      "widget:widget.phase:start",
      "widget:widget.state:connecting",
      "widget:widget.phase:closed",
      "widget:widget.error",
      "widget:widget.state:failed",
    ]);

    vi.useFakeTimers();
    try {
      const slow = setup();
      slow.controller.connect("click");
      vi.advanceTimersByTime(SETUP_HOLD_MAX_MS - 1);
      expect(slow.types()).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(slow.types()).toEqual(["widget:widget.phase:start", "widget:widget.state:connecting"]);
      // From then on records leave as they come, as in a connected call.
      slow.calls[0]!.options.hooks.phase("offer_created");
      expect(slow.types().at(-1)).toBe("widget:widget.phase:offer_created");
    } finally {
      vi.useRealTimers();
    }
  });

  it("pipes every record in order: the first of a task at once, the rest batched", async () => {
    const { model, controller, calls } = setup();
    const batches = () => (model.sent as { kind: string; records?: unknown[] }[]).filter((m) => m.kind === "rt:events");
    controller.connect("click");
    calls[0]!.open(); // the setup's records leave together (held until now)
    expect(batches()).toHaveLength(1);
    model.ackAll();
    // Records pushed in one task: the first leaves at once, the others together at its end.
    const hooks = calls[0]!.options.hooks;
    for (let i = 0; i < 3; i++) hooks.serverEvent({ type: "response.output_text.delta", event_id: `t${i}`, item_id: "a", delta: "x" }, 1);
    expect(batches().map((b) => b.records!.length)).toEqual([4, 1]);
    await Promise.resolve();
    expect(batches().map((b) => b.records!.length)).toEqual([4, 1, 2]);
    model.ackAll();
    const already = batches().length;
    // Events arriving one per task (as data-channel messages do) leave one by one while the
    // window has room, then queue until the kernel acknowledges.
    for (let i = 0; i < 1000; i++) {
      calls[0]!.options.hooks.serverEvent({ type: "response.output_text.delta", event_id: `e${i}`, item_id: "a", delta: "x" }, 1);
      await Promise.resolve();
    }
    expect(batches()).toHaveLength(already + DEFAULT_MAX_IN_FLIGHT);
    model.ackAll();
    const server = model.records().filter((r) => r.source === "server" && String(r.event.event_id).startsWith("e"));
    expect(server.map((r) => r.event.event_id)).toEqual(Array.from({ length: 1000 }, (_, i) => `e${i}`));
    expect(batches().length - already).toBeLessThan(2 * DEFAULT_MAX_IN_FLIGHT);
  });

  it("sends its pipe's name with every batch and takes only acks naming it", () => {
    const { model, controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    const batch = (model.sent as { kind: string; pipe?: string; batch?: number }[]).find((m) => m.kind === "rt:events")!;
    expect(batch.pipe).toMatch(/^pipe_/);
    model.fromKernel({ kind: "rt:ack", pipe: "pipe_of_another_tab", batch: batch.batch });
    const acknowledged = () => (controller as unknown as { pipe: { acknowledged: number } }).pipe.acknowledged;
    expect(acknowledged()).toBe(0);
    model.fromKernel({ kind: "rt:ack", pipe: batch.pipe, batch: batch.batch });
    expect(acknowledged()).toBe(4); // the setup's records: start, connecting, channel_open, connected
  });

  it("sends rt:send events on the channel, stamped with an event_id, and logs them as client records", () => {
    const { model, controller, calls } = setup();
    controller.connect("kernel");
    calls[0]!.open();
    model.fromKernel({ kind: "rt:send", event: { type: "response.create" } });
    const sent = JSON.parse(calls[0]!.sent[0]!);
    expect(sent.event_id).toMatch(/^evt_/);
    model.ackAll();
    const client = model.records().filter((r) => r.source === "client");
    expect(client).toEqual([expect.objectContaining({ event: sent })]);
  });

  it("reports an event it cannot send instead of losing it silently", () => {
    const { model, types } = setup();
    model.fromKernel({ kind: "rt:send", event: { type: "response.create" } });
    expect(types()).toEqual(["widget:widget.error"]);
    expect(model.records()[0]!.event.code).toBe("not_connected");
    expect(String(model.get("error"))).toMatch(/no open call/);
  });

  it("hangs up on rt:disconnect with a reason", () => {
    const { model, calls, types } = setup();
    model.fromKernel({ kind: "rt:connect" });
    calls[0]!.open();
    model.fromKernel({ kind: "rt:disconnect" });
    expect(model.get("state")).toBe("closed");
    expect(types().slice(-2)).toEqual(["widget:widget.phase:closed", "widget:widget.state:closed"]);
    expect(model.records().at(-1)!.event.reason).toBe("w.disconnect() in the kernel");
  });
});

describe("RealtimeController and the call", () => {
  it("tracks state: connecting -> connected -> failed with the error shown, then a fresh call", () => {
    const { model, controller, calls, types } = setup();
    controller.connect("click");
    calls[0]!.open();
    expect(model.get("state")).toBe("connected");
    calls[0]!.end({ state: "failed", reason: "ICE failed", error: new UserFacingError("ice_failed", "The network path failed.") });
    expect(model.get("state")).toBe("failed");
    expect(model.get("error")).toBe("The network path failed.");
    expect(types().slice(-3)).toEqual(["widget:widget.phase:closed", "widget:widget.error", "widget:widget.state:failed"]);
    controller.connect("click");
    expect(calls).toHaveLength(2);
    expect(model.get("error")).toBe("");
    expect(model.get("state")).toBe("connecting");
  });

  it("puts the call id on phase records once known", () => {
    const { model, controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    model.ackAll();
    const open = model.records().find((r) => r.event.phase === "channel_open")!;
    expect(open.event.call_id).toBe("rtc_1");
  });

  it("logs malformed messages as widget.error with the raw text, at their receipt time", () => {
    const { model, controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    calls[0]!.options.hooks.malformed("{oops", "Unexpected token", 1234.5);
    model.ackAll();
    const record = model.records().at(-1)! as { t_browser_ms?: number; event: Record<string, unknown> };
    expect(record.event).toMatchObject({ type: "widget.error", code: "malformed_event", raw: "{oops" });
    expect(record.t_browser_ms).toBe(1234.5);
  });

  it("feeds the transcript and shows service errors", () => {
    const { model, controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    const hooks = calls[0]!.options.hooks;
    hooks.serverEvent({ type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Hi" }, 1);
    expect(controller.transcript.list().map((e) => e.text)).toEqual(["Hi"]);
    hooks.serverEvent({ type: "error", error: { message: "Unknown parameter: 'session.foo'." } }, 2);
    expect(model.get("error")).toBe("The service reported: Unknown parameter: 'session.foo'.");
  });

  it("applies the muted trait to the call, whichever side set it", () => {
    const { model, controller, calls } = setup();
    controller.connect("click");
    model.set("muted", true); // from the kernel
    expect(calls[0]!.muted).toBe(true);
    controller.setMuted(false); // from the panel
    expect(calls[0]!.muted).toBe(false);
    expect(model.get("muted")).toBe(false);
  });

  it("sends a typed message as an item plus response.create", () => {
    const { controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    expect(controller.sendText("  hello  ")).toBe(true);
    expect(calls[0]!.sent.map((t) => JSON.parse(t))).toEqual([
      expect.objectContaining({
        type: "conversation.item.create",
        item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] },
      }),
      expect.objectContaining({ type: "response.create" }),
    ]);
    expect(controller.sendText("   ")).toBe(false);
  });

  it("push-to-talk: turn detection off, clear on press, commit + response on release", () => {
    const { controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    controller.setPushToTalk(true);
    controller.pressToTalk();
    controller.releaseToTalk();
    expect(calls[0]!.sent.map((t) => JSON.parse(t).type)).toEqual([
      "session.update",
      "input_audio_buffer.clear",
      "input_audio_buffer.commit",
      "response.create",
    ]);
  });

  it("push-to-talk turned on before connecting applies when the session starts", () => {
    const { controller, calls } = setup();
    controller.setPushToTalk(true);
    controller.connect("click");
    calls[0]!.open();
    calls[0]!.options.hooks.serverEvent({ type: "session.created", session: { audio: { input: { turn_detection: { type: "server_vad" } } } } }, 1);
    expect(JSON.parse(calls[0]!.sent[0]!)).toMatchObject({ type: "session.update", session: { audio: { input: { turn_detection: null } } } });
  });

  it("dispose hangs up and detaches from the model", () => {
    const { model, controller, calls } = setup();
    controller.connect("click");
    calls[0]!.open();
    controller.dispose();
    expect(calls[0]!.isFinished).toBe(true);
    expect(model.listenerCount).toBe(0);
  });
});

describe("RealtimeController error records", () => {
  it("does not log twice an error the kernel already logged with its command reply", () => {
    const { model, controller, calls, types } = setup();
    controller.connect("click");
    calls[0]!.end({ state: "failed", reason: "bad key", error: new UserFacingError("secret_failed", "bad key", true) });
    expect(types().slice(-2)).toEqual(["widget:widget.phase:closed", "widget:widget.state:failed"]);
    expect(model.get("error")).toBe("bad key");
  });
});

describe("RealtimeController and the secret minted ahead", () => {
  function setupMinting(traits: ConstructorParameters<typeof FakeModel>[0] = {}) {
    const model = new FakeModel(traits);
    const calls: FakeCall[] = [];
    const commands: [string, unknown][] = [];
    let minted = 0;
    const invoke = (async (name: string, msg: unknown) => {
      commands.push([name, msg]);
      minted += 1;
      return [{ ok: true, value: `ek_ahead_${minted}`, expires_at: 4_000_000_000, call_url: "http://127.0.0.1:1/v1/realtime/calls" }, []];
    }) as unknown as Invoke;
    const controller = new RealtimeController({
      model: model as unknown as Model,
      invoke,
      createCall: (options) => {
        const call = new FakeCall(options);
        calls.push(call);
        return call;
      },
    });
    return { model, controller, calls, commands };
  }

  it("mints one when shown and hands it to the next call, then mints the next after that call", async () => {
    const { controller, calls, commands } = setupMinting();
    expect(commands).toEqual([["mint_client_secret", { prefetch: true }]]);
    controller.connect("click");
    await expect(calls[0]!.options.prefetchedSecret).resolves.toMatchObject({ value: "ek_ahead_1" });
    expect(commands).toHaveLength(1); // not during the call
    calls[0]!.open();
    controller.disconnect("done");
    expect(commands).toHaveLength(2);
    controller.connect("click");
    await expect(calls[1]!.options.prefetchedSecret).resolves.toMatchObject({ value: "ek_ahead_2" });
  });

  it("drops it when the kernel's session config changes, and mints another", async () => {
    const { model, controller, calls, commands } = setupMinting();
    model.fromKernel({ kind: "rt:session_changed" });
    expect(commands).toHaveLength(2);
    controller.connect("click");
    await expect(calls[0]!.options.prefetchedSecret).resolves.toMatchObject({ value: "ek_ahead_2" });
  });

  it("mints none for relay signaling, and drops one when the widget switches to relay", () => {
    const relay = setupMinting({ signaling: "relay" });
    expect(relay.commands).toEqual([]);
    relay.controller.connect("click");
    expect(relay.calls[0]!.options.prefetchedSecret).toBeNull();

    const { model, controller, calls, commands } = setupMinting();
    expect(commands).toHaveLength(1);
    model.set("signaling", "relay");
    controller.connect("click");
    expect(calls[0]!.options.prefetchedSecret).toBeNull();
    expect(commands).toHaveLength(1);
  });
});
