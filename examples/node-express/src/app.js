'use strict';

const express = require('express');
const { authRoutes } = require('./routes/auth');
const { userRoutes } = require('./routes/user');
const { notFound, errorHandler } = require('./middleware');

function createApp({ db, wechat, appId, log = console }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (req, res) => res.json({ ok: true }));
  app.use('/auth', authRoutes({ db, wechat, appId }));
  app.use('/user', userRoutes({ db, wechat }));

  app.use(notFound);
  app.use(errorHandler(log));
  return app;
}

module.exports = { createApp };
