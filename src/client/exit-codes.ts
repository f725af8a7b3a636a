/** Exit codes: 0 done, 1 error or refusal, 2 bad usage, 3 the release ended without completing. */
export const ExitCodes = { ok: 0, error: 1, usage: 2, notCompleted: 3 } as const;
