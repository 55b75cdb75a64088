// rt_widget's front end, as an anywidget module.
//
// The call belongs to the model: `initialize` (once per model) creates its controller; `render`
// (once per view) only draws a panel for it. Two views of one widget show one call; removing a view
// leaves the call alone; the model's end (w.close(), kernel restart) runs initialize's cleanup,
// which hangs up and releases the microphone.
import type { AnyModel, Initialize, Render } from "@anywidget/types";
import { RealtimeController } from "./controller";
import type { WidgetTraits } from "./model";
import { renderPanel } from "./panel";
import "./widget.css";

const controllers = new WeakMap<object, RealtimeController>();

/**
 * A key that is the same object in `initialize` and in every `render` of one model.
 *
 * anywidget 0.11 hands each of them a different proxy object (`modelProxy(model, context)`, so it
 * can drop a view's listeners by context), so the proxies cannot key a map. The proxy's `set` is the
 * model's own, bound, and Backbone's `set` returns the model: an empty `set({})` changes nothing
 * (no attribute, no event, nothing queued for the kernel) and yields the one shared model. Hosts
 * whose `set` returns nothing fall back to the object they pass, which must then be shared.
 */
function modelKey(model: AnyModel<WidgetTraits>): object {
  const result: unknown = (model.set as unknown as (attributes: object) => unknown)({});
  return typeof result === "object" && result !== null ? result : model;
}

const initialize: Initialize<WidgetTraits> = ({ model, experimental }) => {
  const key = modelKey(model);
  controllers.get(key)?.dispose(); // a hot reload binds the module again
  const controller = new RealtimeController({ model, invoke: experimental.invoke });
  controllers.set(key, controller);
  return () => {
    controller.dispose();
    if (controllers.get(key) === controller) controllers.delete(key);
  };
};

const render: Render<WidgetTraits> = ({ model, el }) => {
  const controller = controllers.get(modelKey(model));
  if (!controller) {
    el.textContent = "rt_widget: this front end did not initialize the widget's model (it needs anywidget 0.9 or later).";
    return;
  }
  const panel = renderPanel(el, controller);
  return () => panel.dispose();
};

export default { initialize, render };
