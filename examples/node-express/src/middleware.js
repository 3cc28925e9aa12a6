'use strict';

const { HttpError, unauthorized } = require('./errors');

/** `Authorization: Token <token>` → req.user, req.token; 401 `unauthorized` otherwise. */
function requireToken(db) {
  return (req, res, next) => {
    const header = req.get('authorization') || '';
    const match = /^Token\s+([A-Za-z0-9_-]{1,256})\s*$/.exec(header);
    if (!match) return next(unauthorized());
    const user = db.userByToken(match[1]);
    if (!user) return next(unauthorized());
    req.token = match[1];
    req.user = user;
    return next();
  };
}

const uid = (id) => `u_${id}`;

function notFound(req, res, next) {
  next(new HttpError(404, 'not_found'));
}

/** The only place errors become answers: a slug and a status, never a stack trace. */
function errorHandler(log) {
  // eslint-disable-next-line no-unused-vars
  return (err, req, res, next) => {
    let status;
    let slug;
    let headers = {};
    if (err instanceof HttpError) {
      ({ status, slug, headers } = err);
      if (err.cause) log.warn(`${req.method} ${req.path} -> ${status} ${slug}: ${err.cause.message}`);
    } else if (err && err.type === 'entity.parse.failed') {
      status = 400; // malformed JSON body (express.json)
      slug = 'bad_request';
    } else if (err && err.type === 'entity.too.large') {
      status = 413;
      slug = 'payload_too_large';
    } else if (err && Number.isInteger(err.status) && err.status >= 400 && err.status < 500) {
      status = err.status; // other body-parser refusals (charset, encoding)
      slug = 'bad_request';
    } else {
      log.error(`${req.method} ${req.path} -> 500`, err);
      status = 500;
      slug = 'internal_error';
    }
    if (res.headersSent) return req.socket.destroy();
    res.set(headers).status(status).json({ ok: false, error: slug });
  };
}

module.exports = { requireToken, uid, notFound, errorHandler };
