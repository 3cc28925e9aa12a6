"""Login backend of a WeChat mini-program: Flask, wechatpy and SQLite.

    POST /wx/login         {"jsCode", "appId"?}                   -> {"data": {"accessToken", "userId"}}
    GET  /wx/user                                                 -> {"data": {"userId", "nickName", "phone"}}
    POST /wx/logout                                               -> {"data": {"loggedOut": true}}
    POST /wx/user/profile  {"encryptedData", "iv", "rawData"?, "signature"?} -> {"data": {"nickName"}}
    POST /wx/user/phone    {"code"}                               -> {"data": {"phone"}}

Every route but login needs the header `X-Token: <accessToken>`. Errors are
`{"code": <int>, "msg": "..."}` with an HTTP status; any 401 means "call wx.login and log in again".

Configuration (environment): WECHAT_API_BASE, WX_APPS, PORT, DB_PATH, WX_TIMEOUT (see README.md).
"""

import base64
import binascii
import datetime
import email.utils
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager

import requests
from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException
from wechatpy import WeChatClient
from wechatpy.client.api import WeChatWxa
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import InvalidAppIdException, WeChatClientException

log = logging.getLogger("wx-login")

# --- configuration -------------------------------------------------------------------------

WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE", "http://127.0.0.1:9100").rstrip("/")
PORT = int(os.environ.get("PORT", "5000"))
DB_PATH = os.environ.get("DB_PATH", "./data.db")
WX_TIMEOUT = float(os.environ.get("WX_TIMEOUT", "2"))

TOKEN_TTL = 7 * 24 * 3600  # seconds an accessToken stays valid
OPEN_DATA_MAX_AGE = 600  # seconds: older encryptedData (by its watermark) is refused
WX_ATTEMPTS = 3  # tries in all when WeChat answers -1 "system error"
WX_BACKOFF = (0.05, 0.1)  # seconds to wait before the 2nd and the 3rd try

ANONYMOUS_NICKNAME = "微信用户"  # what getUserProfile hands out since 2022-11
ACCESS_TOKEN_ERRORS = (40001, 40014, 42001)  # invalid, malformed, expired access_token
STALE_SESSION_KEY = (87007, 87009)  # checksession: key expired, or not the current one
MISCONFIGURED = (40002, 40013, 40125, 40164, 41002, 41004, 41008)  # our appid/secret/IP/request


def parse_apps(text):
    """`appid:secret[,appid2:secret2]` -> {appid: secret}, in order (the first is the default)."""
    apps = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        appid, sep, secret = item.partition(":")
        if not sep or not appid.strip() or not secret.strip():
            raise SystemExit(f"WX_APPS: expected appid:secret, got {item!r}")
        apps[appid.strip()] = secret.strip()
    if not apps:
        raise SystemExit("WX_APPS is not set (appid:secret[,appid2:secret2])")
    return apps


WX_APPS = parse_apps(os.environ.get("WX_APPS"))
DEFAULT_APPID = next(iter(WX_APPS))


# --- WeChat client ---------------------------------------------------------------------------


class MiniProgramWxa(WeChatWxa):
    # wechatpy's own base-URL setting for the wxa/sns APIs (default https://api.weixin.qq.com/)
    API_BASE_URL = f"{WECHAT_API_BASE}/"

    def get_phone_number(self, code, openid=None):
        """wechatpy's, plus `openid`: WeChat then refuses (40029) a code another user pressed."""
        data = {"code": code}
        if openid:
            data["openid"] = openid
        return self._post("wxa/business/getuserphonenumber", data=data)

    def check_session(self, openid, session_key):
        """wxa/checksession (not in wechatpy): errcode 0 while session_key is the user's current
        key, 87009 once it was rotated."""
        signature = hmac.new(session_key.encode("utf-8"), b"", hashlib.sha256).hexdigest()
        return self._get(
            "wxa/checksession", params={"openid": openid, "signature": signature, "sig_method": "hmac_sha256"}
        )


class MiniProgramClient(WeChatClient):
    """wechatpy's WeChatClient, aimed at WECHAT_API_BASE.

    Two things wechatpy does not let us configure: the access-token URL is hard-coded
    (https://api.weixin.qq.com/cgi-bin/token, fetched without a timeout), so fetch_access_token
    is overridden; and every call, jscode2session included, gets an access_token appended,
    which jscode2session does not need, so a login would depend on the token endpoint.
    """

    API_BASE_URL = f"{WECHAT_API_BASE}/cgi-bin/"  # wechatpy's base URL for cgi-bin APIs
    wxa = MiniProgramWxa()

    def __init__(self, appid, secret):
        # auto_retry=False: wechatpy's own retry on 40001/42001 recurses for as long as WeChat
        # keeps refusing; refresh_and_retry() below does it once.
        super().__init__(appid, secret, timeout=WX_TIMEOUT, auto_retry=False)
        self.clock_offset = None  # WeChat's clock minus ours, from its Date header
        self._http.hooks["response"].append(self._note_wechat_clock)

    def _note_wechat_clock(self, res, *args, **kwargs):
        try:
            then = email.utils.parsedate_to_datetime(res.headers["Date"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return
        self.clock_offset = then - time.time()

    def wechat_now(self):
        """WeChat's time by the last answer's Date header: open-data watermarks carry WeChat's
        clock, which need not be ours (drift; the mock's virtual clock). None before any answer."""
        return None if self.clock_offset is None else time.time() + self.clock_offset

    def _request(self, method, url_or_endpoint, **kwargs):
        if url_or_endpoint.startswith("sns/"):
            # sns/* authenticate with appid and secret. A None parameter is left out by
            # requests, and wechatpy then does not fetch a token to put there.
            params = kwargs.setdefault("params", {})
            params.setdefault("access_token", None)
        return super()._request(method, url_or_endpoint, **kwargs)

    def fetch_access_token(self):
        res = self._http.get(
            f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
        except requests.RequestException as exc:
            raise WeChatClientException(None, None, client=self, request=exc.request, response=exc.response)
        result = self._decode_result(res)
        if not isinstance(result, dict):
            raise BadUpstreamAnswer("cgi-bin/token: not JSON")
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result.get("errmsg"), client=self, response=res)
        if not isinstance(result.get("access_token"), str):
            raise BadUpstreamAnswer("cgi-bin/token: no access_token")
        expires_in = int(result.get("expires_in") or 7200)
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


CLIENTS = {appid: MiniProgramClient(appid, secret) for appid, secret in WX_APPS.items()}


# --- errors ------------------------------------------------------------------------------------


class ApiError(Exception):
    """An answer to the client: HTTP status, our code, a message, extra headers."""

    def __init__(self, status, code, msg, headers=None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode (other than -1, which call_wechat retries)."""

    def __init__(self, errcode, errmsg):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


class BadUpstreamAnswer(Exception):
    """WeChat answered something that is not what the API promises."""


def relogin(msg="login code is invalid or used: call wx.login and log in again"):
    return ApiError(401, 40100, msg)


def not_logged_in():
    return ApiError(401, 40101, "not logged in: call wx.login and log in again")


def bad_request(msg):
    return ApiError(400, 40000, msg)


def bad_open_data(msg):
    return ApiError(400, 40001, msg)


def upstream_unavailable():
    return ApiError(503, 50300, "WeChat is unavailable, try again shortly", {"Retry-After": "1"})


def upstream_bad_gateway():
    return ApiError(502, 50200, "WeChat could not be reached, try again")


def upstream_timeout():
    return ApiError(504, 50400, "WeChat did not answer in time, call wx.login and try again")


def seconds_to_next_day_utc8():
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
    tomorrow = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


def common_wechat_error(err, what):
    """The answer for WeChat errors every route shares."""
    if err.errcode == 45011:
        return ApiError(429, 42900, "too many requests to WeChat, retry in a minute", {"Retry-After": "60"})
    if err.errcode == 45009:
        return ApiError(
            429, 42901, "WeChat's daily quota is used up", {"Retry-After": str(seconds_to_next_day_utc8())}
        )
    if err.errcode in MISCONFIGURED or err.errcode in ACCESS_TOKEN_ERRORS:
        log.error("%s: WeChat rejected our credentials or request: %s %s", what, err.errcode, err.errmsg)
        return ApiError(500, 50000, "server misconfigured")
    log.error("%s: unexpected WeChat error %s %s", what, err.errcode, err.errmsg)
    return upstream_bad_gateway()


def session_key_current(client, sess):
    """Asks WeChat whether the session's session_key is still the user's current one. False
    only when WeChat says it is not; transport trouble is raised (502/503/504)."""
    try:
        refresh_and_retry(
            client, "checksession", lambda: client.wxa.check_session(sess["openid"], sess["session_key"])
        )
    except WeChatError as err:
        if err.errcode in STALE_SESSION_KEY:
            return False
        log.warning("checksession: errcode %s, taking the key as current", err.errcode)
    return True


def login_error(err):
    """The answer to a jscode2session error."""
    if err.errcode in (40029, 40163):  # invalid or expired code; code been used
        return relogin()
    if err.errcode == 40226:  # high-risk user, login blocked by WeChat
        return ApiError(403, 40300, "this WeChat account may not log in (blocked by WeChat)")
    return common_wechat_error(err, "jscode2session")


def call_wechat(what, fn):
    """Runs one WeChat call. -1 is retried (WX_ATTEMPTS tries in all, short backoff), then 503;
    a timeout is 504; no connection, HTTP 5xx or a body that is not JSON is 502; any other
    errcode is raised as WeChatError for the caller to answer."""
    saw_system_error = False
    for attempt in range(1, WX_ATTEMPTS + 1):
        try:
            result = fn()
        except WeChatClientException as exc:
            if exc.errcode is None:  # wechatpy: HTTP status >= 400
                status = getattr(exc.response, "status_code", None)
                log.warning("%s: HTTP %s from WeChat", what, status)
                raise upstream_bad_gateway()
            try:
                errcode = int(exc.errcode)
            except (TypeError, ValueError):
                log.warning("%s: errcode %r is not a number", what, exc.errcode)
                raise upstream_bad_gateway()
            if errcode == -1:
                saw_system_error = True
                log.warning("%s: WeChat system error (try %d of %d)", what, attempt, WX_ATTEMPTS)
                if attempt < WX_ATTEMPTS:
                    time.sleep(WX_BACKOFF[min(attempt, len(WX_BACKOFF)) - 1])
                    continue
                raise upstream_unavailable()
            if errcode == 40163 and saw_system_error:
                # The -1 spent the code after all: WeChat's outage, not the user's doing.
                log.warning("%s: code used up by an earlier system error", what)
                raise upstream_unavailable()
            raise WeChatError(errcode, exc.errmsg)
        except requests.Timeout:
            log.warning("%s: no answer from WeChat within %ss", what, WX_TIMEOUT)
            raise upstream_timeout()
        except (requests.RequestException, BadUpstreamAnswer, ValueError) as exc:
            log.warning("%s: bad answer from WeChat: %s", what, type(exc).__name__)
            raise upstream_bad_gateway()
        if not isinstance(result, dict):  # wechatpy hands back the raw response when not JSON
            log.warning("%s: WeChat's answer is not a JSON object", what)
            raise upstream_bad_gateway()
        return result
    raise AssertionError("unreachable")


def refresh_and_retry(client, what, fn):
    """call_wechat, and on an access-token error (40001, 40014, 42001) a new token and one more
    try. A token voided behind our back (another instance, WeChat's rotation) is normal."""
    try:
        return call_wechat(what, fn)
    except WeChatError as err:
        if err.errcode not in ACCESS_TOKEN_ERRORS:
            raise
        log.info("%s: access token refused (%s), fetching a new one", what, err.errcode)
    try:
        call_wechat("cgi-bin/token", client.fetch_access_token)
    except WeChatError as err:
        raise common_wechat_error(err, "cgi-bin/token")
    return call_wechat(what, fn)


# --- storage -----------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nick_name TEXT,
    avatar_url TEXT,
    phone_country_code TEXT,
    phone TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (phone_country_code, phone)
);
CREATE TABLE IF NOT EXISTS wx_identities (
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    unionid TEXT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    session_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE INDEX IF NOT EXISTS wx_identities_unionid ON wx_identities (unionid);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
"""


def connect():
    conn = sqlite3.connect(DB_PATH, timeout=10, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def init_db():
    conn = connect()
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    conn.close()


def get_db():
    if "db" not in g:
        g.db = connect()
    return g.db


@contextmanager
def transaction(db):
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def save_login(appid, openid, unionid, session_key):
    """Finds or creates the user of (appid, openid), joining another app's user with the same
    unionid, keeps the session_key, and issues a token. One transaction."""
    now = int(time.time())
    token = secrets.token_urlsafe(32)
    db = get_db()
    with transaction(db):
        row = db.execute(
            "SELECT user_id FROM wx_identities WHERE appid = ? AND openid = ?", (appid, openid)
        ).fetchone()
        if row:
            user_id = row["user_id"]
            db.execute(
                "UPDATE wx_identities SET session_key = ?, unionid = COALESCE(?, unionid), updated_at = ?"
                " WHERE appid = ? AND openid = ?",
                (session_key, unionid, now, appid, openid),
            )
        else:
            user_id = None
            if unionid:
                other = db.execute(
                    "SELECT user_id FROM wx_identities WHERE unionid = ? ORDER BY created_at LIMIT 1", (unionid,)
                ).fetchone()
                user_id = other["user_id"] if other else None
            if user_id is None:
                user_id = db.execute("INSERT INTO users (created_at) VALUES (?)", (now,)).lastrowid
            db.execute(
                "INSERT INTO wx_identities (appid, openid, unionid, user_id, session_key, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (appid, openid, unionid, user_id, session_key, now, now),
            )
        db.execute(
            "INSERT INTO tokens (token_hash, user_id, appid, openid, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (hash_token(token), user_id, appid, openid, now, now + TOKEN_TTL),
        )
    return user_id, token


def current_session():
    """The session of the X-Token header, else 401."""
    token = request.headers.get("X-Token", "")
    if not token or len(token) > 128:
        raise not_logged_in()
    row = (
        get_db()
        .execute(
            "SELECT t.token_hash, t.user_id, t.appid, t.openid, i.session_key FROM tokens t"
            " JOIN wx_identities i ON i.appid = t.appid AND i.openid = t.openid"
            " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
            (hash_token(token), int(time.time())),
        )
        .fetchone()
    )
    if row is None:
        raise not_logged_in()
    return row


def load_user(user_id):
    return get_db().execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()


def json_body():
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def string_field(body, name, required=True, max_len=4096):
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise bad_request(f"{name} is required (a non-empty string)")
    return value


def ok(data):
    return jsonify({"data": data})


# --- routes ------------------------------------------------------------------------------------

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
app.json.ensure_ascii = False


@app.teardown_appcontext
def close_db(_exc):
    db = g.pop("db", None)
    if db is not None:
        db.close()


@app.errorhandler(ApiError)
def on_api_error(err):
    resp = jsonify({"code": err.code, "msg": err.msg})
    resp.status_code = err.status
    resp.headers.update(err.headers)
    return resp


@app.errorhandler(HTTPException)
def on_http_error(err):
    resp = jsonify({"code": err.code * 100, "msg": err.name.lower()})
    resp.status_code = err.code
    if getattr(err, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(err.valid_methods)
    return resp


@app.errorhandler(Exception)
def on_unexpected(err):
    log.exception("unhandled error on %s %s", request.method, request.path)
    resp = jsonify({"code": 50000, "msg": "internal error"})
    resp.status_code = 500
    return resp


@app.post("/wx/login")
def login():
    body = json_body()
    js_code = string_field(body, "jsCode", max_len=128)
    appid = body.get("appId")
    if appid is None:
        appid = DEFAULT_APPID
    elif not isinstance(appid, str) or appid not in CLIENTS:
        raise bad_request("appId is not an app served here")
    client = CLIENTS[appid]

    try:
        session = call_wechat("jscode2session", lambda: client.wxa.code_to_session(js_code))
    except WeChatError as err:
        raise login_error(err)
    openid, session_key = session.get("openid"), session.get("session_key")
    unionid = session.get("unionid") or None
    if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
        log.warning("jscode2session: answer without openid or session_key")
        raise upstream_bad_gateway()
    if unionid is not None and not isinstance(unionid, str):
        raise upstream_bad_gateway()

    user_id, token = save_login(appid, openid, unionid, session_key)
    return ok({"accessToken": token, "userId": user_id})


@app.get("/wx/user")
def whoami():
    sess = current_session()
    user = load_user(sess["user_id"])
    return ok({"userId": user["id"], "nickName": user["nick_name"], "phone": user["phone"]})


@app.post("/wx/logout")
def logout():
    sess = current_session()
    db = get_db()
    db.execute("UPDATE tokens SET revoked_at = ? WHERE token_hash = ?", (int(time.time()), sess["token_hash"]))
    return ok({"loggedOut": True})


@app.post("/wx/user/profile")
def submit_profile():
    sess = current_session()
    body = json_body()
    encrypted = string_field(body, "encryptedData", max_len=32 * 1024)
    iv = string_field(body, "iv", max_len=64)
    raw = string_field(body, "rawData", required=False, max_len=16 * 1024)
    signature = string_field(body, "signature", required=False, max_len=64)
    if (raw is None) != (signature is None):
        raise bad_request("rawData and signature come together")
    session_key = sess["session_key"]
    client = CLIENTS[sess["appid"]]
    try:
        iv_bytes = base64.b64decode(iv, validate=True)
        cipher_bytes = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise bad_open_data("encryptedData and iv must be base64")
    if len(iv_bytes) != 16 or not cipher_bytes or len(cipher_bytes) % 16:
        raise bad_open_data("encryptedData or iv has a wrong length")

    failure, data = None, None
    if signature is not None:
        expected = hashlib.sha1((raw + session_key).encode("utf-8")).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8")):
            failure = "signature does not match rawData"
    if failure is None:
        try:
            data = WeChatWxaCrypto(session_key, iv, sess["appid"]).decrypt_message(encrypted)
        except InvalidAppIdException:
            raise bad_open_data("the data was issued for another app")
        except (ValueError, TypeError, KeyError):
            failure = "encryptedData does not decrypt with this session"
    if failure is not None:
        # Sealed with a key we do not have: bad data, or the user's key moved on at WeChat
        # (a wx.login whose code never reached us). Only the second is cured by logging in.
        if not session_key_current(client, sess):
            raise ApiError(401, 40102, "session expired at WeChat: call wx.login and log in again")
        raise bad_open_data(failure)

    open_id = data.get("openId")
    if open_id is not None and open_id != sess["openid"]:
        raise bad_open_data("the data belongs to another user")
    issued, now = data["watermark"].get("timestamp"), client.wechat_now()
    if not isinstance(issued, int) or (now is not None and now - issued > OPEN_DATA_MAX_AGE):
        raise bad_open_data("the data is too old (watermark.timestamp)")

    nick, avatar = data.get("nickName"), data.get("avatarUrl")
    if not isinstance(nick, str) or len(nick) > 256:
        raise bad_open_data("the data has no nickName")
    if not isinstance(avatar, str) or len(avatar) > 2048:
        avatar = None
    db = get_db()
    with transaction(db):
        user = db.execute("SELECT nick_name FROM users WHERE id = ?", (sess["user_id"],)).fetchone()
        # Anonymous data ("微信用户", grey avatar) must not wipe a real stored profile.
        if nick != ANONYMOUS_NICKNAME or not user["nick_name"]:
            db.execute(
                "UPDATE users SET nick_name = ?, avatar_url = COALESCE(?, avatar_url) WHERE id = ?",
                (nick, avatar, sess["user_id"]),
            )
    return ok({"nickName": load_user(sess["user_id"])["nick_name"]})


@app.post("/wx/user/phone")
def bind_phone():
    sess = current_session()
    body = json_body()
    code = string_field(body, "code", max_len=256)
    client = CLIENTS[sess["appid"]]

    try:
        answer = refresh_and_retry(
            client, "getuserphonenumber", lambda: client.wxa.get_phone_number(code, sess["openid"])
        )
    except WeChatError as err:
        if err.errcode == 40029:
            raise ApiError(400, 40002, "phone code is invalid or used: ask the user again")
        raise common_wechat_error(err, "getuserphonenumber")
    info = answer.get("phone_info")
    phone = info.get("purePhoneNumber") if isinstance(info, dict) else None
    country = str(info.get("countryCode") or "86") if isinstance(info, dict) else None
    if not isinstance(phone, str) or not phone:
        log.warning("getuserphonenumber: answer without phone_info.purePhoneNumber")
        raise upstream_bad_gateway()

    db = get_db()
    try:
        with transaction(db):
            owner = db.execute(
                "SELECT id FROM users WHERE phone_country_code = ? AND phone = ?", (country, phone)
            ).fetchone()
            if owner is not None and owner["id"] != sess["user_id"]:
                raise ApiError(409, 40900, "this phone number is bound to another account")
            db.execute(
                "UPDATE users SET phone_country_code = ?, phone = ? WHERE id = ?", (country, phone, sess["user_id"])
            )
    except sqlite3.IntegrityError:  # bound by another request in between
        raise ApiError(409, 40900, "this phone number is bound to another account")
    return ok({"phone": phone})


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    init_db()
    log.info("WeChat API at %s, apps %s, database %s", WECHAT_API_BASE, ", ".join(WX_APPS), DB_PATH)
    app.run(host="127.0.0.1", port=PORT, threaded=True)


if __name__ == "__main__":
    main()
