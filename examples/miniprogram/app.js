const devMock = require('wx-login-kit').install(require('./config').wxLoginKit);
// The line above must stay first: it captures wx.request before anything else wraps it, and
// patches wx.login (in development builds only) before App.onLaunch calls it.

const api = require('./api');

App({
  globalData: { token: '', user: null },

  // What the pages show about where wx.login goes.
  loginSource: devMock.active ? `the mock at ${devMock.mock} (${devMock.reason})` : `WeChat (${devMock.reason})`,

  onLaunch() {
    this.login().catch(() => {
      // The page shows the failure when it asks for the session.
    });
  },

  /** wx.login, then POST /api/login; every page waits on `loginReady`. */
  login() {
    this.loginReady = api.login().then(({ token, user }) => {
      this.globalData.token = token;
      this.globalData.user = user;
      return user;
    });
    return this.loginReady;
  },

  /**
   * Runs `call(token)` with the session. login-core answers 401 when the session or its
   * session_key is gone: log in again and retry once.
   */
  async withSession(call) {
    await this.loginReady;
    try {
      return await call(this.globalData.token);
    } catch (e) {
      if (!(e instanceof api.ApiError) || e.status !== 401) throw e;
      await this.login();
      return call(this.globalData.token);
    }
  },
});
