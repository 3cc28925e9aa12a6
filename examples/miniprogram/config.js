// Where the example's servers are: `harness up` starts the mock at 127.0.0.1:9100 and login-core
// at 127.0.0.1:8080. A phone in debug mode cannot reach 127.0.0.1 on your computer: put your
// computer's LAN address in both URLs and the mock's control token in `token`
// (docs/miniprogram.md, "A phone on the LAN").
module.exports = {
  // wx-login-kit's install config: the mock, and the user wx.login logs in as.
  wxLoginKit: { mock: 'http://127.0.0.1:9100', user: 'alice' },
  // The backend: login-core's HTTP API.
  api: 'http://127.0.0.1:8080',
};
