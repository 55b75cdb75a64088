// Bundle the front end into the Python package (src/rt_widget/static/), as anywidget expects:
// one ES module and one stylesheet, loaded by RealtimeWidget._esm / _css.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: { widget: "src/widget.ts" },
  bundle: true,
  format: "esm",
  target: "es2022",
  outdir: "../src/rt_widget/static",
  sourcemap: watch ? "inline" : false,
  minify: !watch,
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
