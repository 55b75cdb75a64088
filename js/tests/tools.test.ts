// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Invoke } from "../src/commands";
import { RealtimeController } from "../src/controller";
import type { Model } from "../src/model";
import { renderPanel } from "../src/panel";
import { EventPipe } from "../src/pipe";
import { KERNEL_WAIT_MS, ToolWatch, toolLine } from "../src/tools";
import { FakeCall, FakeModel } from "./fakes";

const callEvent = (name: string, callId: string) => ({
  type: "response.function_call_arguments.done",
  event_id: `evt_${callId}`,
  response_id: "resp_1",
  item_id: `item_${callId}`,
  output_index: 0,
  call_id: callId,
  name,
  arguments: "{}",
});

describe("ToolWatch", () => {
  it("says a call waits for the kernel only once it has waited a second unacknowledged", () => {
    const watch = new ToolWatch();
    expect(watch.observe({ type: "response.output_text.delta" }, 0, 0)).toBe(false);
    expect(watch.observe(callEvent("get_weather", "c1"), 1, 100)).toBe(true);
    expect(watch.waiting(100 + KERNEL_WAIT_MS - 1)).toBeNull();
    expect(watch.nextCheckIn(600)).toBe(KERNEL_WAIT_MS - 500);
    expect(watch.waiting(100 + KERNEL_WAIT_MS)?.name).toBe("get_weather");
    // The kernel acknowledges records 0 and 1: it has the call.
    expect(watch.acknowledged(2)).toBe(true);
    expect(watch.waiting(10_000)).toBeNull();
    expect(watch.nextCheckIn(10_000)).toBeNull();
  });

  it("keeps the calls the kernel has not received, oldest first", () => {
    const watch = new ToolWatch();
    watch.observe(callEvent("first", "c1"), 3, 0);
    watch.observe(callEvent("second", "c2"), 7, 500);
    expect(watch.acknowledged(3)).toBe(false); // record 3 is not below 3
    expect(watch.acknowledged(4)).toBe(true);
    expect(watch.waiting(1_400)).toBeNull();
    expect(watch.waiting(1_500)?.name).toBe("second");
    watch.reset();
    expect(watch.waiting(99_999)).toBeNull();
  });

  it("words the line", () => {
    expect(toolLine("running get_weather…", null)).toBe("running get_weather…");
    expect(toolLine("", { name: "get_weather", callId: "c", since: 0, record: 0 })).toBe(
      "get_weather: waiting for the kernel (a running cell holds up tool calls)",
    );
  });
});

describe("EventPipe's record counts, which place a function call in the kernel's log", () => {
  it("counts records pushed and records acknowledged", () => {
    const pipe = new EventPipe({ send: () => {}, maxInFlight: 1 });
    const record = { source: "server" as const, t_browser_ms: 0, event: { type: "x" } };
    for (let i = 0; i < 5; i++) pipe.push(record); // batch 0 holds one record, 4 queue
    expect([pipe.pushed, pipe.acknowledged]).toEqual([5, 0]);
    pipe.ack(0);
    expect(pipe.acknowledged).toBe(1);
    pipe.ack(1);
    expect(pipe.acknowledged).toBe(5);
    pipe.ack(1); // a duplicate ack changes nothing
    expect(pipe.acknowledged).toBe(5);
  });
});

describe("the panel's tool line", () => {
  let clock = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 1_000_000;
  });
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  function setup() {
    const model = new FakeModel();
    const calls: FakeCall[] = [];
    const controller = new RealtimeController({
      model: model as unknown as Model,
      invoke: (async () => [{ ok: true }, []]) as unknown as Invoke,
      createCall: (options) => {
        calls.push(new FakeCall(options));
        return calls.at(-1)!;
      },
      now: () => clock,
    });
    const el = document.createElement("div");
    document.body.append(el);
    const panel = renderPanel(el, controller);
    controller.connect("click");
    calls[0]!.open();
    model.ackAll();
    const line = () => {
      panel.flush();
      return el.querySelector('[data-testid="tool-status"]') as HTMLElement;
    };
    const advance = (ms: number) => {
      clock += ms;
      vi.advanceTimersByTime(ms);
    };
    return { model, controller, calls, line, advance };
  }

  it("shows the wait for a busy kernel, then the kernel's own status", async () => {
    const { model, calls, line, advance } = setup();
    expect(line().hidden).toBe(true);

    // The kernel is busy: the batch holding the function call is not acknowledged.
    calls[0]!.options.hooks.serverEvent(callEvent("get_weather", "c1"), clock);
    await Promise.resolve(); // the end of the task that received it: its batch leaves
    advance(KERNEL_WAIT_MS - 10);
    expect(line().hidden).toBe(true);
    advance(10); // the controller's timer fires and redraws, no event needed
    expect(line().hidden).toBe(false);
    expect(line().textContent).toBe("get_weather: waiting for the kernel (a running cell holds up tool calls)");
    expect(line().dataset.waiting).toBe("true");

    // The cell ends: the kernel acknowledges, starts the tool and says so.
    model.ackAll();
    model.set("tool_status", "running get_weather…");
    expect(line().textContent).toBe("running get_weather…");
    expect(line().dataset.waiting).toBe("false");
    model.set("tool_status", "get_weather done in 12 ms");
    expect(line().textContent).toBe("get_weather done in 12 ms");
  });

  it("never shows the wait when the kernel takes the call at once", async () => {
    const { model, calls, line, advance } = setup();
    calls[0]!.options.hooks.serverEvent(callEvent("get_weather", "c1"), clock);
    await Promise.resolve(); // the end of the task that received it: its batch leaves
    model.ackAll();
    advance(5 * KERNEL_WAIT_MS);
    expect(line().hidden).toBe(true);
  });

  it("forgets waiting calls when the call ends", () => {
    const { calls, line, advance } = setup();
    calls[0]!.options.hooks.serverEvent(callEvent("get_weather", "c1"), clock);
    advance(KERNEL_WAIT_MS);
    expect(line().hidden).toBe(false);
    calls[0]!.hangUp("Disconnect clicked");
    expect(line().hidden).toBe(true);
  });
});
