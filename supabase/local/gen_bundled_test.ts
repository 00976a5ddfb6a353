/**
 * The embedded copies of prompts and platform SQL: the committed `_bundled.ts` modules must be what
 * their files generate today (so CI catches an edit committed without `deno task gen:bundled`),
 * and a generated module must give back every file's text exactly.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Bundle, bundleStates, readBundleFiles, writeBundles } from "./gen_bundled.ts";

Deno.test("every bundled module is up to date with its files", async () => {
  const stale = (await bundleStates()).filter((s) => s.actual !== s.expected);
  assert.deepEqual(
    stale.map((s) => s.bundle.output),
    [],
    "out of date: run `deno task gen:bundled` and commit the result",
  );
});

Deno.test("the prompts bundle holds every prompt and not the folder's README", async () => {
  const [prompts] = (await bundleStates()).filter((s) => s.bundle.source === "prompts");
  const paths = (await readBundleFiles(prompts.bundle)).map((f) => f.path);
  assert.ok(paths.includes("orchestrator.md"));
  assert.ok(paths.includes("backend/db-architect.md"));
  assert.ok(!paths.includes("README.md"));
});

// Text that a careless embedding would change: quotes, backslashes, template syntax, CRLF, a BOM
// in the middle, U+2028, a comment terminator, non-ASCII.
const AWKWARD =
  "a \"quoted\" 'x' `tick` ${not_a_template} \\n\\\\ \r\nline */ \uFEFF \u2028 é 😀\n";

Deno.test("a generated module gives back each file's text, and goes stale when a file changes", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt_gen_bundled_" });
  try {
    const bundle: Bundle = {
      source: "data",
      extension: ".md",
      output: "data/_bundled.ts",
      exclude: ["README.md"],
    };
    await Deno.mkdir(join(root, "data/nested"), { recursive: true });
    await Deno.writeTextFile(join(root, "data/a.md"), AWKWARD);
    await Deno.writeTextFile(join(root, "data/nested/b.md"), "---\nagent: b\n---\nbody\n");
    await Deno.writeTextFile(join(root, "data/README.md"), "docs");
    await Deno.writeTextFile(join(root, "data/skip.txt"), "not markdown");

    assert.deepEqual(await writeBundles([bundle], root), ["data/_bundled.ts"]);
    assert.deepEqual(await writeBundles([bundle], root), [], "a second run changes nothing");
    const url = pathToFileURL(join(root, bundle.output)).href;
    const { FILES } = await import(url) as { FILES: Record<string, string> };
    assert.deepEqual(FILES, { "a.md": AWKWARD, "nested/b.md": "---\nagent: b\n---\nbody\n" });
    assert.ok(Object.isFrozen(FILES));

    const stale = async () => {
      const [state] = await bundleStates([bundle], root);
      return state.actual !== state.expected;
    };
    assert.equal(await stale(), false);
    await Deno.writeTextFile(join(root, "data/nested/b.md"), "changed");
    assert.equal(await stale(), true, "a changed file");
    await writeBundles([bundle], root);
    await Deno.remove(join(root, "data/a.md"));
    assert.equal(await stale(), true, "a removed file");
    await writeBundles([bundle], root);
    await Deno.writeTextFile(join(root, "data/c.md"), "new");
    assert.equal(await stale(), true, "an added file");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the committed bundles pass deno fmt and deno lint unchanged", async () => {
  const outputs = (await bundleStates()).map((s) => s.bundle.output);
  for (const command of [["fmt", "--check"], ["lint"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...command, ...outputs],
      cwd: new URL("../../", import.meta.url),
    }).output();
    assert.equal(out.code, 0, `deno ${command[0]}: ${new TextDecoder().decode(out.stderr)}`);
  }
});
