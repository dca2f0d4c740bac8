/**
 * The API's fixed limits. They are part of the contract (the OpenAPI document and the API
 * Gateway models state them), so they are constants, not settings.
 */

/** Largest request body the API reads; larger ones get 413 (API Gateway's own cap is 10 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Jobs in one pack. */
export const MAX_JOBS = 1000;

/** Files in one POST /uploads: a person and a garment for every job of the largest pack. */
export const MAX_UPLOAD_FILES = 2 * MAX_JOBS;

/** Largest image a pre-signed upload accepts (S3 refuses another Content-Length). */
export const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;

export const UPLOAD_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;

export const MAX_NAME_LENGTH = 200;

/** Page sizes of the list routes. */
export const PAGE = { default: 50, max: 100 } as const;

/** DELETE /cleanup: hours bounds, and jobs cleaned per call (the answer says when more remain). */
export const CLEANUP = { minHours: 1, maxHours: 24 * 365, maxJobsPerCall: 200 } as const;

/** Issues listed in one 400 answer; the rest are counted. */
export const MAX_ISSUES = 50;

/** API Gateway's own payload cap: the local gateway refuses larger bodies before the handler. */
export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** What an Idempotency-Key header may hold. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Recorded failures (failed jobs, newest first) one classifier pattern dry run or save looks at. */
export const TAUGHT_SCAN = { default: 200, max: 1000 } as const;
