'use strict';

const express = require('express');
const { HttpError, badRequest, fromWeChat, WeChatError } = require('../errors');
const { requireToken } = require('../middleware');

const PHONE_CODE = /^[A-Za-z0-9_-]{1,256}$/;

function userRoutes({ db, wechat }) {
  const router = express.Router();

  // POST /user/phone {"phoneCode": "<code from the getPhoneNumber button>"}
  router.post('/phone', requireToken(db), express.json({ limit: '16kb' }), async (req, res) => {
    const body = req.body;
    const phoneCode = body && typeof body === 'object' && !Array.isArray(body) ? body.phoneCode : undefined;
    if (typeof phoneCode !== 'string' || !PHONE_CODE.test(phoneCode)) throw badRequest();

    let info;
    try {
      info = await wechat.getPhoneNumber(phoneCode, req.user.openid);
    } catch (err) {
      // 40029 from getuserphonenumber: the phone code is unknown, expired or already used.
      if (err instanceof WeChatError && err.errcode === 40029 && /getuserphonenumber/.test(err.path)) {
        throw new HttpError(400, 'invalid_phone_code', { cause: err });
      }
      throw fromWeChat(err);
    }

    if (!db.bindPhone(req.user, info)) {
      throw new HttpError(409, 'phone_taken');
    }
    res.json({ ok: true, phone: info.purePhoneNumber });
  });

  return router;
}

module.exports = { userRoutes };
