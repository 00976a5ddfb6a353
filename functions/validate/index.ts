/**
 * The `validate` edge function: `POST /functions/v1/validate` checks SQL a signed-in user brings
 * on a disposable shadow database. Wiring only — the app and the validator live in
 * `shared/validation`.
 */
import { createValidateApp, loadValidateConfig } from "../../shared/validation/mod.ts";

const app = createValidateApp(loadValidateConfig());

Deno.serve(app.fetch);
