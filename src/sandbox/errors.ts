/** An Ashby error answer: HTTP 200 + `success:false` unless `status` says otherwise. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 200,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function invalidInput(message: string): ApiError {
  return new ApiError('invalid_input', message);
}

export function notFound(kind: string, what = kind): ApiError {
  return new ApiError(
    `${kind}_not_found`,
    `${what[0]?.toUpperCase() ?? ''}${what.slice(1)} not found - are you lacking permissions to read it?`,
  );
}
