import assert from "node:assert/strict";
import { type Seeded, seededIdFor } from "./function_seed.ts";

const seeded = {
  ids: new Map([
    ["public.boards", "b-1"],
    ["public.cards", "c-1"],
    ["public.categories", "k-1"],
  ]),
} as unknown as Seeded;

Deno.test("a path placeholder gets the owner's seeded id of the table it names", () => {
  assert.equal(seededIdFor(seeded, "board_id", "anything"), "b-1");
  assert.equal(seededIdFor(seeded, "cardId", "anything"), "c-1");
  assert.equal(seededIdFor(seeded, "category_id", "anything"), "k-1");
  assert.equal(seededIdFor(seeded, "id", "board-summary"), "b-1");
  assert.equal(seededIdFor(seeded, "id", "move-cards"), "c-1");
  assert.equal(seededIdFor(seeded, "id", "export"), undefined);
  assert.equal(seededIdFor(seeded, "user_id", "anything"), undefined);
  assert.equal(seededIdFor(seeded, "slug", "boards"), undefined);
  const one = { ids: new Map([["public.notes", "n-1"]]) } as unknown as Seeded;
  assert.equal(seededIdFor(one, "id", "export"), "n-1");
});
