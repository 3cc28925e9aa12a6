"""A deliberately faulty login backend: examples/python-flask with three planted bugs.

It runs the good app (imported from ../python-flask/app.py, not copied) with three behaviours
replaced, each a mistake real backends make:

  (a) a login code WeChat says is already used (40163) ends in HTTP 500, not 401 "log in again";
  (b) the logout answer leaks the user's session_key in a "debug" field, JSON-escaped the way
      PHP's json_encode does it (every "/" written as "\\/");
  (c) WeChat's -1 "system error" is not retried: the first -1 is final (503).

Same configuration and routes as the good app (see README.md).
"""

import importlib.util
import json
import sys
from pathlib import Path

GOOD_APP = Path(__file__).resolve().parent.parent / "python-flask" / "app.py"

_spec = importlib.util.spec_from_file_location("python_flask_app", GOOD_APP)
good = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = good
_spec.loader.exec_module(good)

app = good.app


# (a) Only the codes someone thought of have a message; 40163 hits a KeyError and the generic
#     error handler turns it into 500.
RELOGIN_MESSAGES = {40029: "login code is invalid or expired: call wx.login and log in again"}
_good_login_error = good.login_error


def login_error(err):
    if err.errcode in (40029, 40163):
        return good.relogin(RELOGIN_MESSAGES[err.errcode])
    return _good_login_error(err)


good.login_error = login_error


# (b) Logout revokes the token as before, then "helpfully" adds the session_key for debugging.
_good_logout = app.view_functions["logout"]


def logout():
    sess = good.current_session()
    body = _good_logout().get_json()
    body["debug"] = sess["session_key"]
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")  # PHP-style
    return app.response_class(text, mimetype="application/json")


app.view_functions["logout"] = logout


# (c) One try only: the first -1 from WeChat is final.
good.WX_ATTEMPTS = 1


if __name__ == "__main__":
    good.main()
