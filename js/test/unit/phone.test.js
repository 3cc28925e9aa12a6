'use strict';
// The phone button: withMockPhone and the Page / Component wrappers fill e.detail from the mock
// for both kinds, a user who declines, an app out of quota and a mock that is down.

const test = require('node:test');
const assert = require('node:assert/strict');

const kit = require('../../src/index');
const { FakeMock } = require('../support/fake-mock');
const { createFakeWx } = require('../support/fake-wx');

let inst;
function setup(options = {}) {
  const mock = new FakeMock(options.mock);
  const wx = createFakeWx(mock);
  inst = kit.install({ mock: mock.url, user: 'alice', wx, ...options.config });
  return { mock, wx };
}

test.afterEach(() => {
  if (inst) inst.uninstall();
  inst = null;
});

/** The event the runtime hands a bindgetphonenumber handler in DevTools with the tourist appid. */
function realEvent(type = 'getphonenumber', errMsg = 'getPhoneNumber:fail no permission') {
  return {
    type,
    timeStamp: 1,
    target: { id: 'phone-button' },
    currentTarget: { id: 'phone-button', dataset: { from: 'page' } },
    detail: { errMsg },
  };
}

function recorder() {
  const seen = [];
  function handler(e) {
    seen.push({ self: this, e });
    return 'handled';
  }
  return { seen, handler };
}

test("getPhoneNumber: the detail is the mock's answer without its facts; the rest of the event and `this` stay", async () => {
  const { mock } = setup();
  const { seen, handler } = recorder();
  const wrapped = kit.withMockPhone(handler);
  const page = { name: 'the page' };
  assert.equal(await wrapped.call(page, realEvent()), 'handled');
  const { self, e } = seen[0];
  assert.equal(self, page);
  assert.equal(e.type, 'getphonenumber');
  assert.deepEqual(e.currentTarget, { id: 'phone-button', dataset: { from: 'page' } });
  assert.deepEqual(Object.keys(e.detail).sort(), ['code', 'errMsg']);
  assert.equal(e.detail.errMsg, 'getPhoneNumber:ok');
  assert.match(e.detail.code, /^phonecode\d+$/);
  assert.deepEqual(mock.calls('wx/getPhoneNumber')[0].body, { user: 'alice' });
});

test('after a login the detail carries the legacy encryptedData and iv too', async () => {
  const { wx } = setup();
  await wx.login();
  const { seen, handler } = recorder();
  await kit.withMockPhone(handler)(realEvent());
  assert.deepEqual(Object.keys(seen[0].e.detail).sort(), ['code', 'encryptedData', 'errMsg', 'iv']);
});

test('getRealtimePhoneNumber follows the event type, or options.kind', async () => {
  const { mock } = setup();
  const { seen, handler } = recorder();
  await kit.withMockPhone(handler)(realEvent('getrealtimephonenumber', 'getRealtimePhoneNumber:fail no permission'));
  assert.equal(seen[0].e.detail.errMsg, 'getRealtimePhoneNumber:ok');
  assert.deepEqual(mock.calls('wx/getPhoneNumber')[0].body, { user: 'alice', kind: 'getRealtimePhoneNumber' });
  await kit.withMockPhone(handler, { kind: 'getRealtimePhoneNumber' })({ detail: {} });
  assert.equal(seen[1].e.type, 'getrealtimephonenumber');
  assert.equal(seen[1].e.detail.errMsg, 'getRealtimePhoneNumber:ok');
  assert.throws(
    () => kit.withMockPhone(handler, { kind: 'getPhone' }),
    /`kind` is getPhoneNumber or getRealtimePhoneNumber/,
  );
});

test("a user who declines: options.deny, WeChat's own dialog declined, or the deny switch", async () => {
  const { mock, wx } = setup();
  const { seen, handler } = recorder();
  await kit.withMockPhone(handler, { deny: true })(realEvent());
  await kit.withMockPhone(handler)(realEvent('getphonenumber', 'getPhoneNumber:fail user deny'));
  wx.setStorageSync(kit.STORAGE_KEYS.deny, 'getRealtimePhoneNumber');
  await kit.withMockPhone(handler)(realEvent('getrealtimephonenumber', 'getRealtimePhoneNumber:fail no permission'));
  assert.deepEqual(
    seen.map((s) => s.e.detail),
    [
      { errMsg: 'getPhoneNumber:fail user deny' },
      { errMsg: 'getPhoneNumber:fail user deny' },
      { errMsg: 'getRealtimePhoneNumber:fail user deny' },
    ],
  );
  assert.deepEqual(
    mock.calls('wx/getPhoneNumber').map((r) => r.body),
    [
      { user: 'alice', deny: true },
      { user: 'alice', deny: true },
      { user: 'alice', kind: 'getRealtimePhoneNumber', deny: true },
    ],
  );
});

test('an app out of phone quota: errno 1400001 reaches the handler', async () => {
  setup({ mock: { phoneQuota: 0 } });
  const { seen, handler } = recorder();
  await kit.withMockPhone(handler)(realEvent());
  assert.deepEqual(seen[0].e.detail, { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 });
});

test('tamper is passed to the mock', async () => {
  const { mock } = setup();
  await kit.withMockPhone(() => {}, { tamper: 'flipped_byte' })(realEvent());
  assert.equal(mock.calls('wx/getPhoneNumber')[0].body.tamper, 'flipped_byte');
});

test('a mock that is down: the handler still runs, with a fail detail naming the mock', async () => {
  const { mock } = setup();
  mock.overrides.set('wx/getPhoneNumber', { transport: 'request:fail connect ECONNREFUSED' });
  const { seen, handler } = recorder();
  await kit.withMockPhone(handler)(realEvent());
  assert.deepEqual(seen[0].e.detail, {
    errMsg: `getPhoneNumber:fail mock at ${mock.url} unreachable: request:fail connect ECONNREFUSED`,
  });
});

test('strict: an unknown user gets a fail detail', async () => {
  const { mock } = setup({ mock: { users: ['alice'] }, config: { user: 'zed', strict: true } });
  const { seen, handler } = recorder();
  await kit.withMockPhone(handler)(realEvent());
  assert.deepEqual(seen[0].e.detail, {
    errMsg: `getPhoneNumber:fail unknown user \`zed\` (strict: seed it with POST /__mock__/users at ${mock.url})`,
  });
});

test('after uninstall a wrapped handler gets the real event untouched', () => {
  setup();
  const { seen, handler } = recorder();
  const wrapped = kit.withMockPhone(handler);
  inst.uninstall();
  const event = realEvent();
  assert.equal(wrapped(event), 'handled');
  assert.equal(seen[0].e, event);
});

test('withMockPhonePage wraps the named handlers and leaves the rest as they were', async () => {
  setup();
  const { seen, handler } = recorder();
  const onLoad = () => {};
  const definition = { data: { a: 1 }, onLoad, onGetPhoneNumber: handler };
  const wrapped = kit.withMockPhonePage(definition, ['onGetPhoneNumber']);
  assert.notEqual(wrapped, definition);
  assert.equal(definition.onGetPhoneNumber, handler, 'the definition passed in is not changed');
  assert.equal(wrapped.onLoad, onLoad);
  assert.equal(wrapped.data, definition.data);
  await wrapped.onGetPhoneNumber(realEvent());
  assert.equal(seen[0].e.detail.errMsg, 'getPhoneNumber:ok');
});

test('withMockPhoneComponent wraps methods; a name that is not a method is an error', async () => {
  setup();
  const { seen, handler } = recorder();
  const other = () => {};
  const definition = { properties: {}, methods: { onPhone: handler, other } };
  const wrapped = kit.withMockPhoneComponent(definition, 'onPhone');
  assert.equal(wrapped.properties, definition.properties);
  assert.equal(wrapped.methods.other, other);
  await wrapped.methods.onPhone(realEvent());
  assert.equal(seen[0].e.detail.errMsg, 'getPhoneNumber:ok');
  assert.throws(
    () => kit.withMockPhoneComponent(definition, ['onPhoneNumber']),
    /the component's methods has no method "onPhoneNumber" to wrap/,
  );
  assert.throws(() => kit.withMockPhonePage({}, []), /name the phone handlers to wrap/);
});
