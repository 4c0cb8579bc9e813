/** Base of every error raised for an Ashby call. Never carries the API key. */
export class AshbyError extends Error {
  override name = 'AshbyError';
  constructor(
    message: string,
    readonly endpoint: string,
    readonly code: string | undefined,
    readonly requestId: string | undefined,
  ) {
    super(message);
  }
}
