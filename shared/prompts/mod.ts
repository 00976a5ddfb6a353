/**
 * Loads the Markdown prompts of `prompts/` (front matter + body) and names each by a hash of its
 * content, so a run can record exactly which prompt text produced its results. Prompt prose lives
 * only in those files, never in hand-written code: the files are embedded in `_bundled.ts` by
 * `deno task gen:bundled`, so they are in every function's import graph and ship with a deploy
 * (which bundles modules, not the `prompts/` folder).
 *
 * @example
 * ```ts
 * const p = await loadPrompt("orchestrator");
 * p.version; // "orchestrator@3f2a9c1d04be"
 * ```
 */
import { AppError } from "../errors/mod.ts";
import { FILES } from "./_bundled.ts";

/** A loaded prompt. */
export interface Prompt {
  /** Path below `prompts/` without `.md`, e.g. `backend/db-architect`. */
  name: string;
  /** Front matter as key → string. */
  meta: Record<string, string>;
  /** Everything after the front matter. */
  body: string;
  /** First 12 hex digits of the SHA-256 of the whole file. */
  hash: string;
  /** `<name>@<hash>`, stored on runs and attempts. */
  version: string;
  /** Named sections (`## Heading` → text), for prompts that hold several parts. */
  sections: Record<string, string>;
}

const cache = new Map<string, Promise<Prompt>>();

/**
 * Loads (once per process) the prompt `name`: by default from the bundled copy of `prompts/`, or,
 * when `dir` is given, from `<dir>/<name>.md` on disk (for tests and prompt drafts). Either way the
 * hash is that of the whole file text, so a bundled prompt has the same version as its file.
 */
export function loadPrompt(name: string, dir?: URL): Promise<Prompt> {
  if (!/^[a-z0-9-]+(\/[a-z0-9-]+)*$/.test(name)) {
    return Promise.reject(new AppError("validation_failed", `bad prompt name: ${name}`));
  }
  const key = dir ? new URL(`${name}.md`, dir).href : `bundled:${name}`;
  let p = cache.get(key);
  if (!p) {
    p = dir ? readPrompt(name, new URL(`${name}.md`, dir)) : bundledPrompt(name);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function bundledPrompt(name: string): Promise<Prompt> {
  const text: string | undefined = FILES[`${name}.md`];
  if (text === undefined) {
    throw new AppError(
      "config_missing",
      `prompt ${name} is not bundled: add prompts/${name}.md and run \`deno task gen:bundled\``,
    );
  }
  return parsePrompt(name, text, await sha256Hex(text));
}

async function readPrompt(name: string, url: URL): Promise<Prompt> {
  let text: string;
  try {
    text = await Deno.readTextFile(url);
  } catch (e) {
    throw new AppError("config_missing", `prompt ${name} not found at ${url.pathname}`, undefined, {
      cause: e,
    });
  }
  return parsePrompt(name, text, await sha256Hex(text));
}

/** Parses a prompt file's text. Pure apart from the hash it is given. */
export function parsePrompt(name: string, text: string, fullHash: string): Prompt {
  const normalised = text.replaceAll("\r\n", "\n");
  const meta: Record<string, string> = {};
  let body = normalised;
  const fm = /^---\n([\s\S]*?)\n---\n?/.exec(normalised);
  if (fm) {
    for (const line of fm[1].split("\n")) {
      const m = /^([A-Za-z_][\w-]*):\s*(.*?)\s*(#.*)?$/.exec(line);
      if (m) meta[m[1]] = m[2];
    }
    body = normalised.slice(fm[0].length);
  }
  const hash = fullHash.slice(0, 12);
  return {
    name,
    meta,
    body: body.trim(),
    hash,
    version: `${name}@${hash}`,
    sections: sections(body),
  };
}

function sections(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = body.split(/^## +(.+)$/m);
  for (let i = 1; i < parts.length; i += 2) out[parts[i].trim()] = parts[i + 1].trim();
  return out;
}

/** Hex SHA-256 of a string. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Fills `{{name}}` placeholders; an unknown placeholder is an error, not an empty string. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    if (!(key in values)) {
      throw new AppError("internal", `prompt placeholder {{${key}}} has no value`);
    }
    return values[key];
  });
}
