/**
 * Every error code the product can return, with the HTTP status it maps to. One list, so clients
 * can rely on the codes and the HTTP layer maps them in one place.
 */
export const ERROR_CODES = {
  validation_failed: 400,
  invalid_json: 400,
  unauthorized: 401,
  user_not_found: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  illegal_transition: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  budget_exceeded: 429,
  rate_limited: 429,
  too_many_runs_in_flight: 429,
  too_many_validations_in_flight: 429,
  config_missing: 500,
  config_invalid: 500,
  migration_failed: 500,
  database_error: 500,
  internal: 500,
  llm_invalid_output: 502,
  plan_invalid: 502,
  upstream_unavailable: 503,
  infrastructure_error: 503,
  llm_unavailable: 503,
  llm_not_configured: 503,
} as const;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;
