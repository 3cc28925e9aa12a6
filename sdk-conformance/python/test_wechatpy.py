"""wechatpy (2.0.0a26, pinned in examples/python-flask/requirements.txt) against mock-server.

Every test calls one of wechatpy's typed methods exactly as a backend does and asserts what the
method hands back (the fields a backend reads, with the values the control plane said) or what it
raises on a WeChat error (the exact errcode). The mock runs once, at MOCK_URL; each test makes its
own app and user through the control plane, so tests never share state, and reads the mock's
journal to see which requests wechatpy really sent.

wechatpy is pointed at the mock by its base-URL class attributes (`WeChatClient.API_BASE_URL`,
`WeChatWxa.API_BASE_URL`, `WeChatComponent.API_BASE_URL`). Its access-token URL is a literal in
`WeChatClient.fetch_access_token`, so each client's requests session gets one transport adapter
that sends exactly that URL to the mock; any other request to a non-mock address fails the test
instead of leaving the machine.

Run: MOCK_URL=http://127.0.0.1:PORT python -m unittest -v test_wechatpy  (or `bash .ci/sdk.sh`).
"""

import hashlib
import hmac
import json
import os
import sys
import unittest
import uuid

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

import wechatpy
from wechatpy import WeChatClient, WeChatComponent
from wechatpy.client.api import WeChatWxa
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import (
    APILimitedException,
    InvalidAppIdException,
    WeChatClientException,
)

MOCK_URL = os.environ.get("MOCK_URL", "").rstrip("/")
if not MOCK_URL:
    sys.exit("test_wechatpy: set MOCK_URL to a running mock-server, e.g. http://127.0.0.1:9100")

# The one URL wechatpy builds without a base-URL attribute.
TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/token"

WeChatClient.API_BASE_URL = f"{MOCK_URL}/cgi-bin/"
WeChatWxa.API_BASE_URL = f"{MOCK_URL}/"
WeChatComponent.API_BASE_URL = f"{MOCK_URL}/cgi-bin"

CONTROL = requests.Session()


def control(method, path, body=None):
    """One control-plane call; any answer but 2xx fails the test with the mock's message."""
    res = CONTROL.request(method, f"{MOCK_URL}/__mock__{path}", json=body, timeout=10)
    if not res.ok:
        raise AssertionError(f"control plane {method} {path} {body!r}: HTTP {res.status_code} {res.text}")
    return res.json()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def advance(duration):
    """Moves the mock's virtual clock (never sleeps)."""
    return control("POST", "/clock", {"advance": duration})


def mock_now():
    return control("GET", "/clock")["now_ms"] // 1000


class _ToMock(HTTPAdapter):
    """Sends the hard-coded token URL to the mock, keeping path and query."""

    def send(self, request, **kwargs):
        request.url = MOCK_URL + request.url[len("https://api.weixin.qq.com") :]
        return super().send(request, **kwargs)


class _Refuse(BaseAdapter):
    def send(self, request, **kwargs):
        raise AssertionError(f"wechatpy sent a request to {request.url}, not to the mock at {MOCK_URL}")

    def close(self):
        pass


def isolate(http):
    """The requests session of a wechatpy object: the mock, the token URL to the mock, nothing else."""
    http.mount("https://", _Refuse())
    http.mount("http://", _Refuse())
    http.mount(f"{MOCK_URL}/", HTTPAdapter())
    http.mount(TOKEN_URL, _ToMock())
    return http


class MockCase(unittest.TestCase):
    """A fresh app (bound to its own open-platform account unless `bound=False`) and user per test."""

    def setUp(self):
        # A filter no entry matches: only `last_seq`, where this test's requests start.
        self.seq0 = control("GET", "/journal?endpoint=none")["last_seq"]

    def new_app(self, bound=True):
        body = {"open_platform": unique("op")} if bound else {}
        return control("POST", "/apps", body)

    def new_user(self, **fields):
        return control("POST", "/users", {"handle": unique("u"), **fields})["handle"]

    def client(self, app, **kwargs):
        c = WeChatClient(app["appid"], app["secret"], **kwargs)
        isolate(c._http)
        return c

    def login(self, app, user):
        return control("POST", "/wx/login", {"appid": app["appid"], "user": user})

    def calls(self, app, endpoint=None):
        """The vendor requests of this test for `app`: those the mock tied to the app, and those
        carrying one of the app's access tokens (a rejected token is tied to no app)."""
        tokens = {
            json.loads(e["response"])["access_token"]
            for name in ("token", "stable_token")
            for e in control("GET", f"/journal?appid={app['appid']}&endpoint={name}&errcode=0")["entries"]
        }
        entries = control("GET", f"/journal?since={self.seq0}")["entries"]
        mine = [
            e
            for e in entries
            if e["appid"] == app["appid"] or e["params"].get("access_token") in tokens
        ]
        return [e for e in mine if endpoint is None or e["endpoint"] == endpoint]

    def assertRaisesErrcode(self, errcode, fn, *args, exc=WeChatClientException, **kwargs):
        with self.assertRaises(exc) as caught:
            fn(*args, **kwargs)
        self.assertEqual(caught.exception.errcode, errcode, f"errmsg: {caught.exception.errmsg}")
        return caught.exception


class CodeToSession(MockCase):
    """`client.wxa.code_to_session(js_code)`: GET sns/jscode2session."""

    def test_bound_app_gets_openid_session_key_and_unionid(self):
        app, user = self.new_app(bound=True), self.new_user()
        login = self.login(app, user)
        session = self.client(app).wxa.code_to_session(login["code"])
        self.assertEqual(session["openid"], login["mock"]["openid"])
        self.assertEqual(session["session_key"], login["mock"]["session_key"])
        self.assertEqual(session["unionid"], login["mock"]["unionid"])
        self.assertNotIn("errcode", session)

    def test_unbound_app_gets_no_unionid(self):
        app, user = self.new_app(bound=False), self.new_user()
        login = self.login(app, user)
        session = self.client(app).wxa.code_to_session(login["code"])
        self.assertEqual(session["openid"], login["mock"]["openid"])
        self.assertEqual(session["session_key"], login["mock"]["session_key"])
        self.assertNotIn("unionid", session)

    def test_fetches_a_token_first_and_sends_it_along(self):
        # wechatpy routes code_to_session through its token-carrying request path: a token is
        # fetched (from the hard-coded URL, which must reach the mock) and appended to the
        # jscode2session query, which WeChat ignores there.
        app, user = self.new_app(), self.new_user()
        self.client(app).wxa.code_to_session(self.login(app, user)["code"])
        calls = self.calls(app)
        self.assertEqual([c["endpoint"] for c in calls], ["token", "jscode2session"])
        token = json.loads(calls[0]["response"])["access_token"]
        self.assertEqual(calls[1]["params"]["access_token"], token)
        self.assertEqual(calls[1]["params"]["grant_type"], "authorization_code")

    def test_unknown_code_raises_40029(self):
        app = self.new_app()
        err = self.assertRaisesErrcode(40029, self.client(app).wxa.code_to_session, "0" + "a" * 31)
        self.assertTrue(err.errmsg.startswith("invalid code, rid: "), err.errmsg)

    def test_expired_code_raises_40029(self):
        app, user = self.new_app(), self.new_user()
        code = self.login(app, user)["code"]
        advance("301s")
        self.assertRaisesErrcode(40029, self.client(app).wxa.code_to_session, code)

    def test_other_apps_code_raises_40029(self):
        app, other, user = self.new_app(), self.new_app(), self.new_user()
        code = self.login(other, user)["code"]
        self.assertRaisesErrcode(40029, self.client(app).wxa.code_to_session, code)

    def test_used_code_raises_40163(self):
        app, user = self.new_app(), self.new_user()
        code = self.login(app, user)["code"]
        client = self.client(app)
        client.wxa.code_to_session(code)
        err = self.assertRaisesErrcode(40163, client.wxa.code_to_session, code)
        self.assertTrue(err.errmsg.startswith("code been used, rid: "), err.errmsg)

    def test_high_risk_user_raises_40226(self):
        app, user = self.new_app(), self.new_user(high_risk=True)
        self.assertRaisesErrcode(40226, self.client(app).wxa.code_to_session, self.login(app, user)["code"])

    def test_system_error_raises_minus_1_without_retry(self):
        app, user = self.new_app(), self.new_user()
        control("POST", "/faults", {"endpoint": "jscode2session", "appid": app["appid"], "errcode": -1, "times": 1})
        self.assertRaisesErrcode(-1, self.client(app).wxa.code_to_session, self.login(app, user)["code"])
        self.assertEqual(len(self.calls(app, "jscode2session")), 1)

    def test_daily_quota_raises_api_limited_45009(self):
        app, user = self.new_app(), self.new_user()
        control("POST", "/faults", {"endpoint": "jscode2session", "appid": app["appid"], "errcode": 45009, "times": 1})
        err = self.assertRaisesErrcode(
            45009, self.client(app).wxa.code_to_session, self.login(app, user)["code"], exc=APILimitedException
        )
        self.assertTrue(err.errmsg.startswith("reach max api daily quota limit"), err.errmsg)


class AccessToken(MockCase):
    """`client.fetch_access_token()`, the cached `client.access_token`, and wechatpy's
    fetch-a-new-token-and-retry on 40001/42001."""

    def test_fetch_access_token(self):
        app = self.new_app()
        client = self.client(app)
        result = client.fetch_access_token()
        self.assertEqual(result["expires_in"], 7200)
        self.assertIsInstance(result["access_token"], str)
        self.assertEqual(client.access_token, result["access_token"])
        [call] = self.calls(app, "token")
        self.assertEqual(json.loads(call["response"])["access_token"], result["access_token"])
        self.assertEqual(call["params"]["grant_type"], "client_credential")

    def test_token_is_reused_across_calls(self):
        app, user = self.new_app(), self.new_user()
        client = self.client(app)
        for _ in range(3):
            client.wxa.code_to_session(self.login(app, user)["code"])
        calls = self.calls(app)
        self.assertEqual([c["endpoint"] for c in calls], ["token"] + ["jscode2session"] * 3)

    def test_wrong_secret_raises_40125(self):
        app = self.new_app()
        err = self.assertRaisesErrcode(40125, self.client({**app, "secret": "0" * 32}).fetch_access_token)
        self.assertTrue(err.errmsg.startswith("invalid appsecret rid: "), err.errmsg)

    def test_unknown_appid_raises_40013(self):
        self.assertRaisesErrcode(40013, self.client({"appid": "wx" + "0" * 16, "secret": "0" * 32}).fetch_access_token)

    def test_expired_token_42001_is_refreshed_and_the_call_retried(self):
        app, user = self.new_app(), self.new_user()
        client = self.client(app)
        first = client.fetch_access_token()["access_token"]
        # WeChat's clock, not wechatpy's: the token expires on the mock while wechatpy still
        # holds it as valid, so only the 42001 answer can make wechatpy fetch again.
        advance("7201s")
        login = self.login(app, user)
        session = client.wxa.code_to_session(login["code"])
        self.assertEqual(session["openid"], login["mock"]["openid"])
        calls = self.calls(app)
        self.assertEqual(
            [(c["endpoint"], c["errcode"]) for c in calls],
            [("token", 0), ("jscode2session", 0)],
            "jscode2session ignores the token: nothing to refresh there",
        )
        # A call that needs the token: 42001, a new cgi-bin/token call, the same call again.
        phone_code = control("POST", "/wx/getPhoneNumber", {"appid": app["appid"], "user": user})["code"]
        self.seq0 = calls[-1]["seq"]
        result = client.wxa.get_phone_number(phone_code)
        self.assertEqual(result["errcode"], 0)
        calls = self.calls(app)
        self.assertEqual(
            [(c["endpoint"], c["errcode"]) for c in calls],
            [("getuserphonenumber", 42001), ("token", 0), ("getuserphonenumber", 0)],
        )
        self.assertEqual(calls[0]["params"]["access_token"], first)
        second = json.loads(calls[1]["response"])["access_token"]
        self.assertNotEqual(second, first)
        self.assertEqual(calls[2]["params"]["access_token"], second)
        self.assertEqual(client.access_token, second)

    def test_superseded_token_40001_is_refreshed_and_the_call_retried(self):
        app, user = self.new_app(), self.new_user()
        client = self.client(app)
        first = client.fetch_access_token()["access_token"]
        # Another process of the same backend fetches a token: the first stays valid 5 minutes.
        self.client(app).fetch_access_token()
        advance("301s")
        pay = control("POST", "/payments", {"appid": app["appid"], "user": user})
        unionid = client.wxa.get_paid_unionid(pay["openid"], transaction_id=pay["transaction_id"])
        self.assertEqual(unionid, pay["unionid"])
        calls = self.calls(app)
        self.assertEqual(
            [(c["endpoint"], c["errcode"]) for c in calls],
            [("token", 0), ("token", 0), ("getpaidunionid", 40001), ("token", 0), ("getpaidunionid", 0)],
        )
        self.assertEqual(calls[2]["params"]["access_token"], first)
        self.assertEqual(calls[4]["params"]["access_token"], json.loads(calls[3]["response"])["access_token"])

    def test_without_auto_retry_42001_raises(self):
        app, user = self.new_app(), self.new_user()
        client = self.client(app, auto_retry=False)
        client.fetch_access_token()
        advance("7201s")
        phone_code = control("POST", "/wx/getPhoneNumber", {"appid": app["appid"], "user": user})["code"]
        err = self.assertRaisesErrcode(42001, client.wxa.get_phone_number, phone_code)
        self.assertTrue(err.errmsg.startswith("access_token expired rid: "), err.errmsg)
        self.assertEqual([c["endpoint"] for c in self.calls(app)], ["token", "getuserphonenumber"])


class PhoneNumber(MockCase):
    """`client.wxa.get_phone_number(code)`: POST wxa/business/getuserphonenumber."""

    def phone_code(self, app, user):
        return control("POST", "/wx/getPhoneNumber", {"appid": app["appid"], "user": user})

    def test_phone_info_with_country_code_as_a_string(self):
        app, user = self.new_app(), self.new_user()
        grant = self.phone_code(app, user)
        before = mock_now()
        result = self.client(app).wxa.get_phone_number(grant["code"])
        after = mock_now()
        self.assertEqual(result["errcode"], 0)
        self.assertEqual(result["errmsg"], "ok")
        info = result["phone_info"]
        number = grant["mock"]["phone"]["number"]
        self.assertEqual(info["countryCode"], "86")
        self.assertEqual(info["purePhoneNumber"], number)
        self.assertEqual(info["phoneNumber"], number)
        self.assertEqual(info["watermark"]["appid"], app["appid"])
        self.assertIsInstance(info["watermark"]["timestamp"], int)
        self.assertTrue(before <= info["watermark"]["timestamp"] <= after, info["watermark"])

    def test_foreign_number_keeps_its_prefix_in_phone_number_only(self):
        app = self.new_app()
        user = self.new_user(phone={"country_code": "852", "number": "61234567"})
        info = self.client(app).wxa.get_phone_number(self.phone_code(app, user)["code"])["phone_info"]
        self.assertEqual(info["countryCode"], "852")
        self.assertEqual(info["purePhoneNumber"], "61234567")
        self.assertEqual(info["phoneNumber"], "+85261234567")

    def test_used_code_raises_40029(self):
        app, user = self.new_app(), self.new_user()
        code = self.phone_code(app, user)["code"]
        client = self.client(app)
        client.wxa.get_phone_number(code)
        err = self.assertRaisesErrcode(40029, client.wxa.get_phone_number, code)
        self.assertTrue(err.errmsg.startswith("invalid code hint: ["), err.errmsg)

    def test_expired_code_raises_40029(self):
        app, user = self.new_app(), self.new_user()
        code = self.phone_code(app, user)["code"]
        client = self.client(app)
        client.fetch_access_token()
        advance("301s")
        self.assertRaisesErrcode(40029, client.wxa.get_phone_number, code)

    def test_other_apps_code_raises_40029(self):
        app, other, user = self.new_app(), self.new_app(), self.new_user()
        self.assertRaisesErrcode(40029, self.client(app).wxa.get_phone_number, self.phone_code(other, user)["code"])

    def test_legacy_encrypted_data_decrypts_with_wxa_crypto(self):
        # The button's encryptedData, for backends that still decrypt it with the session_key.
        app, user = self.new_app(), self.new_user()
        session_key = self.login(app, user)["mock"]["session_key"]
        grant = self.phone_code(app, user)
        plain = WeChatWxaCrypto(session_key, grant["iv"], app["appid"]).decrypt_message(grant["encryptedData"])
        self.assertEqual(plain["countryCode"], "86")
        self.assertEqual(plain["purePhoneNumber"], grant["mock"]["phone"]["number"])
        self.assertEqual(plain["watermark"]["appid"], app["appid"])

    def test_foreign_watermark_raises_invalid_appid(self):
        app, user = self.new_app(), self.new_user()
        session_key = self.login(app, user)["mock"]["session_key"]
        grant = control(
            "POST", "/wx/getPhoneNumber", {"appid": app["appid"], "user": user, "tamper": "foreign_watermark"}
        )
        with self.assertRaises(InvalidAppIdException):
            WeChatWxaCrypto(session_key, grant["iv"], app["appid"]).decrypt_message(grant["encryptedData"])


class PaidUnionid(MockCase):
    """`client.wxa.get_paid_unionid(openid, transaction_id=, mch_id=, out_trade_no=)`:
    GET wxa/getpaidunionid; wechatpy returns the unionid string itself."""

    def pay(self, app, user):
        return control("POST", "/payments", {"appid": app["appid"], "user": user})

    def test_by_transaction_id(self):
        app, user = self.new_app(), self.new_user()
        pay = self.pay(app, user)
        unionid = self.client(app).wxa.get_paid_unionid(pay["openid"], transaction_id=pay["transaction_id"])
        self.assertEqual(unionid, pay["unionid"])
        [call] = self.calls(app, "getpaidunionid")
        self.assertNotIn("mch_id", call["params"])

    def test_by_mch_id_and_out_trade_no(self):
        app, user = self.new_app(), self.new_user()
        pay = self.pay(app, user)
        unionid = self.client(app).wxa.get_paid_unionid(
            pay["openid"], mch_id=pay["mch_id"], out_trade_no=pay["out_trade_no"]
        )
        self.assertEqual(unionid, pay["unionid"])
        [call] = self.calls(app, "getpaidunionid")
        self.assertNotIn("transaction_id", call["params"])

    def test_unionid_is_the_one_code_to_session_gives(self):
        app, user = self.new_app(), self.new_user()
        client = self.client(app)
        session = client.wxa.code_to_session(self.login(app, user)["code"])
        pay = self.pay(app, user)
        self.assertEqual(pay["openid"], session["openid"])
        unionid = client.wxa.get_paid_unionid(session["openid"], transaction_id=pay["transaction_id"])
        self.assertEqual(unionid, session["unionid"])

    def test_unknown_trade_raises_89300(self):
        app, user = self.new_app(), self.new_user()
        pay = self.pay(app, user)
        err = self.assertRaisesErrcode(
            89300, self.client(app).wxa.get_paid_unionid, pay["openid"], transaction_id="4200000000000000000000000000"
        )
        self.assertTrue(err.errmsg.startswith("invalid trade rid: "), err.errmsg)

    def test_payment_older_than_five_minutes_raises_89300(self):
        app, user = self.new_app(), self.new_user()
        pay = self.pay(app, user)
        client = self.client(app)
        client.fetch_access_token()
        advance("301s")
        self.assertRaisesErrcode(
            89300, client.wxa.get_paid_unionid, pay["openid"], mch_id=pay["mch_id"], out_trade_no=pay["out_trade_no"]
        )

    def test_another_payers_trade_raises_89300(self):
        app, payer, other = self.new_app(), self.new_user(), self.new_user()
        pay = self.pay(app, payer)
        other_openid = self.pay(app, other)["openid"]
        self.assertRaisesErrcode(
            89300, self.client(app).wxa.get_paid_unionid, other_openid, transaction_id=pay["transaction_id"]
        )

    def test_unbound_app_raises_89002(self):
        app, user = self.new_app(bound=False), self.new_user()
        pay = self.pay(app, user)
        self.assertRaisesErrcode(
            89002, self.client(app).wxa.get_paid_unionid, pay["openid"], transaction_id=pay["transaction_id"]
        )


class SessionKeyChecks(MockCase):
    """wxa/checksession and wxa/resetusersessionkey: wechatpy has no typed method, so a backend
    calls them through `client.get(...)`; this proves wechatpy's generic path and its errors."""

    @staticmethod
    def signature(session_key):
        return hmac.new(session_key.encode(), b"", hashlib.sha256).hexdigest()

    def check(self, client, openid, session_key):
        return client.get(
            "wxa/checksession",
            params={"openid": openid, "signature": self.signature(session_key), "sig_method": "hmac_sha256"},
            api_base_url=WeChatWxa.API_BASE_URL,
        )

    def test_checksession_ok_then_87009_after_reset(self):
        app, user = self.new_app(), self.new_user()
        login = self.login(app, user)
        client = self.client(app)
        openid, key = login["mock"]["openid"], login["mock"]["session_key"]
        self.assertEqual(self.check(client, openid, key), {"errcode": 0, "errmsg": "ok"})
        reset = client.get(
            "wxa/resetusersessionkey",
            params={"openid": openid, "signature": self.signature(key), "sig_method": "hmac_sha256"},
            api_base_url=WeChatWxa.API_BASE_URL,
        )
        self.assertEqual(reset["openid"], openid)
        self.assertNotEqual(reset["session_key"], key)
        [held] = [a for a in control("GET", f"/users/{user}")["apps"] if a["appid"] == app["appid"]]
        self.assertEqual(held["session_key"], reset["session_key"])
        err = self.assertRaisesErrcode(87009, self.check, client, openid, key)
        self.assertTrue(err.errmsg.startswith("invalid signature rid: "), err.errmsg)
        self.assertEqual(self.check(client, openid, reset["session_key"])["errcode"], 0)


class ComponentToken(MockCase):
    """`WeChatComponent.fetch_access_token()`: POST cgi-bin/component/api_component_token, with the
    `component_verify_ticket` a platform's backend keeps in `component.session`. Skipped while the
    mock does not serve the path; the platform fixture comes from the control plane's
    `POST /__mock__/platforms`."""

    def setUp(self):
        probe = requests.post(f"{MOCK_URL}/cgi-bin/component/api_component_token", data="{}", timeout=10).json()
        if probe.get("errcode") == 40066:
            self.skipTest("mock-server does not serve POST /cgi-bin/component/api_component_token (40066 invalid url)")
        super().setUp()

    def platform(self):
        if "/platforms" not in control("GET", "/openapi.json")["paths"]:
            self.skipTest("mock-server serves api_component_token but has no POST /__mock__/platforms to create one")
        return control("POST", "/platforms", {})

    def component(self, appid, secret, ticket):
        component = WeChatComponent(appid, secret, "token", "k" * 43)
        isolate(component._http)
        component.session.set(f"{appid}_component_verify_ticket", ticket)
        return component

    def test_fetch_component_access_token(self):
        platform = self.platform()
        ticket = platform["component_verify_ticket"]
        component = self.component(platform["component_appid"], platform["component_appsecret"], ticket)
        result = component.fetch_access_token()
        self.assertEqual(set(result), {"component_access_token", "expires_in"})
        self.assertEqual(result["expires_in"], 7200)
        self.assertEqual(component.access_token, result["component_access_token"])
        [call] = control("GET", f"/journal?since={self.seq0}&endpoint=api_component_token")["entries"]
        self.assertEqual(
            json.loads(call["body"]),
            {
                "component_appid": platform["component_appid"],
                "component_appsecret": platform["component_appsecret"],
                "component_verify_ticket": ticket,
            },
        )
        self.assertEqual(json.loads(call["response"])["component_access_token"], result["component_access_token"])

    def test_unknown_component_appid_raises_40013(self):
        component = self.component("wx" + "0" * 16, "0" * 32, "ticket@@@" + "0" * 86)
        self.assertRaisesErrcode(40013, component.fetch_access_token)

    def test_wrong_secret_raises_40125(self):
        platform = self.platform()
        component = self.component(platform["component_appid"], "0" * 32, platform["component_verify_ticket"])
        self.assertRaisesErrcode(40125, component.fetch_access_token)

    def test_another_platforms_ticket_raises_61006(self):
        platform, other = self.platform(), self.platform()
        component = self.component(
            platform["component_appid"], platform["component_appsecret"], other["component_verify_ticket"]
        )
        self.assertRaisesErrcode(61006, component.fetch_access_token)

    def test_ticket_older_than_twelve_hours_raises_61005(self):
        platform = self.platform()
        component = self.component(
            platform["component_appid"], platform["component_appsecret"], platform["component_verify_ticket"]
        )
        advance("43201s")
        self.assertRaisesErrcode(61005, component.fetch_access_token)


if __name__ == "__main__":
    print(f"wechatpy {wechatpy.__version__} against {MOCK_URL}", file=sys.stderr)
    unittest.main(verbosity=2)
