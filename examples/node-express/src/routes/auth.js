'use strict';

const express = require('express');
const { badRequest, unauthorized, relogin, fromWeChat, WeChatError } = require('../errors');
const { requireToken, uid } = require('../middleware');

// A wx.login code: letters, digits, '-' and '_' (32 characters in practice).
const LOGIN_CODE = /^[A-Za-z0-9_-]{1,128}$/;

// checksession's answers that mean "this session_key is no longer WeChat's current one".
const STALE_SESSION = new Set([87009, 87007, 40003]);

function authRoutes({ db, wechat, appId }) {
  const router = express.Router();
  const auth = requireToken(db);

  // POST /auth/wechat?code=<wx.login code>
  router.post('/wechat', async (req, res) => {
    const { code } = req.query;
    if (typeof code !== 'string' || !LOGIN_CODE.test(code)) throw badRequest();

    let session;
    try {
      session = await wechat.codeToSession(code);
    } catch (err) {
      throw fromWeChat(err);
    }

    const { userId, token } = db.login({
      appid: appId,
      openid: session.openid,
      unionid: session.unionid,
      sessionKey: session.session_key,
    });
    res.json({ ok: true, token, uid: uid(userId) });
  });

  router.get('/me', auth, (req, res) => {
    res.json({ ok: true, uid: uid(req.user.id), phone: req.user.phone || null });
  });

  router.post('/refresh', auth, (req, res) => {
    const token = db.rotateToken(req.token, req.user.id);
    if (!token) throw unauthorized(); // refreshed or logged out by a concurrent request
    res.json({ ok: true, token });
  });

  router.post('/logout', auth, (req, res) => {
    db.revokeToken(req.token);
    res.json({ ok: true });
  });

  // Is the session_key we hold still the user's current one at WeChat?
  router.get('/check', auth, async (req, res) => {
    try {
      await wechat.checkSession(req.user.openid, req.user.session_key);
    } catch (err) {
      if (err instanceof WeChatError && STALE_SESSION.has(err.errcode) && /checksession/.test(err.path)) {
        throw relogin(err);
      }
      throw fromWeChat(err);
    }
    res.json({ ok: true });
  });

  return router;
}

module.exports = { authRoutes };
