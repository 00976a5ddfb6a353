import assert from "node:assert/strict";
import { gzip, tarArchive } from "./tar.ts";

const longFolder = `supabase/functions/${"very-long-folder-name-".repeat(5)}`;
const ENTRIES = [
  { path: "README.md", content: "# Trade journal\n" },
  {
    path: "supabase/migrations/20261125143000_create_profiles.sql",
    content: "create table x ();\n",
  },
  { path: `${longFolder}/index.ts`, content: "Deno.serve(() => new Response('ok'));\n" },
  { path: `docs/${"a".repeat(120)}/${"b".repeat(150)}.md`, content: "long path" },
  { path: "docs/ünïcode.md", content: "héllo ✓\n" },
  { path: "empty.txt", content: "" },
  { path: "bin.dat", content: new Uint8Array([0, 1, 2, 255]) },
];

async function run(
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const child = new Deno.Command(args[0], {
    args: args.slice(1),
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("the system tar lists every file of a .tar.gz, long and non-ASCII paths included", async () => {
  const archive = await gzip(tarArchive(ENTRIES));
  const listed = await run(["tar", "-tzf", "-"], archive);
  assert.equal(listed.code, 0, listed.stderr);
  const names = new TextDecoder().decode(listed.stdout).split("\n").filter((l) => l !== "");
  const files = names.filter((n) => !n.endsWith("/"));
  assert.deepEqual(files, ENTRIES.map((e) => e.path));
  assert.ok(
    names.includes("supabase/") && names.includes("supabase/migrations/"),
    "folders come first",
  );
});

Deno.test("extracting the archive gives back every file's bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tarPath = `${dir}/out.tar`;
    await Deno.writeFile(tarPath, tarArchive(ENTRIES, { mtime: new Date("2026-11-25T14:30:00Z") }));
    const extracted = await run(["tar", "-xf", tarPath, "-C", dir]);
    assert.equal(extracted.code, 0, extracted.stderr);
    for (const e of ENTRIES) {
      const bytes = await Deno.readFile(`${dir}/${e.path}`);
      const want = typeof e.content === "string" ? new TextEncoder().encode(e.content) : e.content;
      assert.deepEqual(bytes, want, e.path);
    }
    const stat = await Deno.stat(`${dir}/README.md`);
    assert.equal(stat.mtime?.toISOString(), "2026-11-25T14:30:00.000Z");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("archives are reproducible: the same files give the same bytes", () => {
  assert.deepEqual(tarArchive(ENTRIES), tarArchive(ENTRIES));
  assert.equal(tarArchive([]).length, 1024, "an empty archive is two zero blocks");
});
