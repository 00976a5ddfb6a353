/**
 * The `validate` edge function: `POST /functions/v1/validate` checks SQL a signed-in user brings
 * on a disposable shadow database. Wiring only — the app and the validator live in
 * `shared/validation`; the product database holds the per-user limits.
 */
import { connect } from "../../shared/db/mod.ts";
import { refuseSharedShadowServer } from "../../shared/shadow/mod.ts";
import { createValidateApp, loadValidateConfig } from "../../shared/validation/mod.ts";

await refuseSharedShadowServer();

const config = loadValidateConfig();
// The product database only keeps the per-user limits here: one small pool is plenty.
const sql = connect(config.dbUrl, { max: 2, applicationName: "validate" });
const app = createValidateApp({ ...config, sql });

Deno.serve(app.fetch);
