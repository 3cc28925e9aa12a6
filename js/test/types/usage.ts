// Compiled (not run) by test/unit/types.test.js: the declarations accept what the README shows
// and refuse what they should.
import {
  install,
  withMockPhone,
  withMockPhoneComponent,
  withMockPhonePage,
  STORAGE_KEYS,
  type PhoneEvent,
} from 'wx-login-kit';
import {
  installGlobalWx,
  mockWxLogin,
  tapPhoneButton,
  createNodeWx,
  type AutomatorMiniProgram,
  type AutomatorPage,
} from 'wx-login-kit/node';

const wx = createNodeWx({ envVersion: 'develop' });
const inst = install({ mock: 'http://127.0.0.1:9100', user: 'alice', token: 't', deny: ['getUserProfile'], wx });
if (inst.active) {
  const mock: string = inst.mock;
  void mock;
}
inst.uninstall();
const key: 'wx-login-kit:user' = STORAGE_KEYS.user;
void key;

const handler = withMockPhone(
  function (this: { name: string }, e: PhoneEvent) {
    const code: string | undefined = e.detail.code;
    const errno: number | undefined = e.detail.errno;
    return [code, errno, this.name];
  },
  { kind: 'getRealtimePhoneNumber', tamper: 'flipped_byte' },
);
void handler;

const page = withMockPhonePage(
  {
    onGetPhoneNumber(e: PhoneEvent) {
      return e.detail.errMsg;
    },
  },
  ['onGetPhoneNumber'],
);
void page.onGetPhoneNumber;
const component = withMockPhoneComponent(
  {
    methods: {
      onPhone(e: PhoneEvent) {
        return e.detail.errMsg;
      },
    },
  },
  'onPhone',
);
void component.methods.onPhone;

const session = installGlobalWx({ mock: 'http://127.0.0.1:9100', user: 'alice', envVersion: 'develop' });
session.uninstall();

declare const miniProgram: AutomatorMiniProgram;
declare const automatorPage: AutomatorPage;
async function automator() {
  await mockWxLogin(miniProgram, { mock: 'http://127.0.0.1:9100', user: 'bob', relogin: 'login' });
  const detail = await tapPhoneButton(automatorPage, '#phone', {
    mock: 'http://127.0.0.1:9100',
    user: 'bob',
    deny: true,
  });
  return detail.errMsg;
}
void automator;

// @ts-expect-error `mock` is required
install({ user: 'alice' });
// @ts-expect-error not a phone kind
withMockPhone(() => {}, { kind: 'getPhone' });
// @ts-expect-error login cannot be declined
install({ mock: 'http://x', user: 'a', deny: ['login'] });
