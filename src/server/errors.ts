/**
 * Errors a route answers on purpose, and the one error handler that turns any error into a JSON
 * body `{ error: { code, message } }`. 4xx messages say what to fix; 5xx messages are replaced by
 * a generic one (the details go to the log with the request id), so no stack or path leaks.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Codes for the errors fastify and its plugins raise themselves. */
const FRAMEWORK_CODES: Record<string, [number, string, string?]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large'],
  FST_REQ_FILE_TOO_LARGE: [413, 'body_too_large'],
  FST_FILES_LIMIT: [413, 'too_many_files'],
  FST_PARTS_LIMIT: [413, 'too_many_parts'],
  FST_FIELDS_LIMIT: [413, 'too_many_fields'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'send one image as the raw body (Content-Type image/png, image/jpeg, ... or application/octet-stream) or several as multipart/form-data'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_content_length'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'empty_body'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_VALIDATION: [400, 'bad_request'],
  FST_ERR_NOT_FOUND: [404, 'not_found'],
};

export interface ErrorBody {
  error: { code: string; message: string; requestId?: string };
}

export function errorBody(code: string, message: string, requestId?: string): ErrorBody {
  return { error: { code, message, ...(requestId ? { requestId } : {}) } };
}

/** Installs the JSON error and not-found handlers on `app`. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, req: FastifyRequest, reply: FastifyReply) => {
    let status: number;
    let code: string;
    let message = err.message;
    if (err instanceof HttpError) {
      status = err.statusCode;
      code = err.code;
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    } else if (err.code && FRAMEWORK_CODES[err.code]) {
      const [s, c, m] = FRAMEWORK_CODES[err.code]!;
      status = s;
      code = c;
      if (m) message = m;
    } else if (err.validation) {
      status = 400;
      code = 'bad_request';
    } else {
      status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
      code = status >= 500 ? 'internal' : 'bad_request';
    }
    if (status >= 500 && !(err instanceof HttpError)) {
      req.log.error({ err, url: req.url, model: (req.params as { name?: string } | undefined)?.name }, 'request failed');
      message = 'internal error; the server log has the details under this request id';
    } else if (status >= 500) {
      req.log.warn({ url: req.url, code }, err.message);
    }
    // an oversized body is not read to its end: close the connection rather than drain it
    if (status === 413) reply.header('Connection', 'close');
    reply.code(status).type('application/json').send(errorBody(code, message, status >= 500 ? String(req.id) : undefined));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}; see GET /openapi.json`));
  });
}
