// The login page, written with Component() (as pages may be) so miniprogram-simulate renders it
// in the tests. Its phone handler is wrapped: in a development build the event's detail comes
// from the mock; elsewhere the handler is the one written here.
const { withMockPhoneComponent, STORAGE_KEYS } = require('wx-login-kit');
const api = require('../../api');

const PHONE_OUT_OF_QUOTA = 1400001;

function message(e) {
  return (e && (e.message || e.errMsg)) || String(e);
}

Component(
  withMockPhoneComponent(
    {
      data: { status: 'Logging in…', source: '', user: null, note: '', error: '', devUser: '' },

      lifetimes: {
        attached() {
          this.setData({ source: getApp().loginSource });
          this.show(getApp().loginReady);
        },
      },

      methods: {
        /** Shows the user a login (or any call answering `{user}` or a user) resolves to. */
        async show(pending) {
          try {
            const answer = await pending;
            const user = answer && answer.user ? answer.user : answer;
            this.setData({ status: 'Logged in', user, error: '' });
          } catch (e) {
            this.setData({ status: 'Not logged in', error: message(e) });
          }
        },

        onLogin() {
          this.setData({ status: 'Logging in…', note: '', error: '' });
          return this.show(getApp().login());
        },

        async onShareProfile() {
          let profile;
          try {
            profile = await wx.getUserProfile({ desc: 'Show your name on your account' });
          } catch (e) {
            const declined = /auth deny/.test(e.errMsg);
            this.setData(declined ? { note: 'You kept your profile to yourself.' } : { error: message(e) });
            return;
          }
          this.setData({ note: '', error: '' });
          await this.show(getApp().withSession((token) => api.submitProfile(token, profile)));
        },

        async onGetPhoneNumber(e) {
          const detail = e.detail;
          if (detail.errno === PHONE_OUT_OF_QUOTA) {
            this.setData({ note: 'Phone numbers are unavailable right now (out of quota).' });
            return;
          }
          if (/:fail.*deny/.test(detail.errMsg)) {
            this.setData({ note: 'You kept your phone number to yourself.' });
            return;
          }
          if (!detail.code) {
            this.setData({ error: detail.errMsg });
            return;
          }
          this.setData({ note: '', error: '' });
          await this.show(getApp().withSession((token) => api.bindPhone(token, detail.code)));
        },

        onDevUserInput(e) {
          this.setData({ devUser: e.detail.value });
        },

        /** The hidden-dev-menu switch: the next wx.login answers for this mock user. */
        onSwitchUser() {
          const user = this.data.devUser.trim();
          if (user) wx.setStorageSync(STORAGE_KEYS.user, user);
          else wx.removeStorageSync(STORAGE_KEYS.user);
          return this.onLogin();
        },
      },
    },
    ['onGetPhoneNumber'],
  ),
);
