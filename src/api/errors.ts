/** An HTTP error with a stable machine code; the server turns it into `{"error":{"code","message"}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'bad_request', message);
export const notFound = (message = 'not found'): HttpError => new HttpError(404, 'not_found', message);
export const unauthorized = (message = 'missing or invalid bearer token'): HttpError => new HttpError(401, 'unauthorized', message);
