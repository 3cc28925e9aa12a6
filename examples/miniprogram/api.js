// The example's backend client: login-core's HTTP API (GET /openapi.json on the server).
const config = require('./config');

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? `backend said ${status} ${e.code}: ${e.message}` : `backend said ${status}`);
    this.status = status;
    this.code = e && e.code;
  }
}

function request(method, path, data, token) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: config.api + path,
      method,
      data,
      header: token ? { Authorization: `Bearer ${token}` } : {},
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data);
        else reject(new ApiError(res.statusCode, res.data));
      },
      fail(err) {
        reject(new Error(`backend at ${config.api} unreachable: ${err.errMsg}`));
      },
    });
  });
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: resolve,
      fail(err) {
        reject(new Error(err.errMsg));
      },
    });
  });
}

/** The appid to send; none from DevTools' tourist appid (the backend's first app). */
function appid() {
  const id = wx.getAccountInfoSync().miniProgram.appId;
  return id && id !== 'touristappid' ? id : undefined;
}

async function login() {
  const { code } = await wxLogin();
  const id = appid();
  return request('POST', '/api/login', id ? { code, appid: id } : { code });
}

module.exports = {
  ApiError,
  login,
  me: (token) => request('GET', '/api/me', undefined, token),
  // The getUserProfile callback goes as it is: encryptedData, iv, rawData and signature.
  submitProfile: (token, profile) => request('POST', '/api/me/profile', profile, token),
  bindPhone: (token, code) => request('POST', '/api/me/phone', { code }, token),
};
