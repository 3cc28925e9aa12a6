// Type declarations of wx-login-kit (the mini-program side). The Node side is in node/index.d.ts.

/** The wx APIs an installation replaces. */
export type PatchedApi = 'login' | 'checkSession' | 'getUserProfile' | 'getUserInfo' | 'getShareInfo' | 'getWeRunData';

/** The two phone buttons. */
export type PhoneKind = 'getPhoneNumber' | 'getRealtimePhoneNumber';

/** The APIs a user can decline (a deny list holds these names). */
export type DeclinableApi = 'getUserProfile' | 'getUserInfo' | 'getWeRunData' | PhoneKind;

/** Ways the mock spoils open data, for negative tests (the mock's `Tamper`). */
export type Tamper =
  | 'foreign_watermark'
  | 'expired_timestamp'
  | 'stale_key'
  | 'flipped_byte'
  | 'truncated_base64'
  | 'wrong_iv_length';

/** A `wx`-like object: what install reads and patches. */
export interface WxLike {
  request(options: Record<string, any>): any;
  getAccountInfoSync?(): {
    miniProgram: { appId: string; envVersion: 'develop' | 'trial' | 'release' | string; version?: string };
  };
  getStorageSync?(key: string): any;
  [api: string]: any;
}

export interface InstallConfig {
  /** The mock's base URL, like `http://127.0.0.1:9100` (a LAN address for a phone). */
  mock: string;
  /** The mock user wx.login logs in as, unless switched at run time. */
  user: string;
  /** The appid to log in to; default `wx.getAccountInfoSync().miniProgram.appId`, the tourist appid meaning the mock's default app. */
  appid?: string;
  /** `true` patches any build, `false` none; left out: development builds only. */
  enabled?: boolean;
  /** The mock's `--control-token`, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** A user the mock does not have fails wx.login and the phone button instead of being created. */
  strict?: boolean;
  /** APIs the user declines unless switched at run time. */
  deny?: DeclinableApi[] | string;
  /** Milliseconds before a silent mock fails the call; default 5000. */
  timeout?: number;
  /** The object to patch; default the global `wx`. */
  wx?: WxLike;
}

/** What install returns in a build it patched. */
export interface Installation {
  readonly active: true;
  /** Why it is active: `develop build` or `enabled: true`. */
  readonly reason: string;
  /** The mock's base URL. */
  readonly mock: string;
  /** The appid sent, or undefined for the mock's default app. */
  readonly appid: string | undefined;
  /** False after uninstall. */
  readonly installed: boolean;
  /** Puts every patched API back. */
  uninstall(): void;
  withMockPhone<H extends (this: any, event: PhoneEvent, ...rest: any[]) => any>(handler: H, options?: PhoneOptions): H;
}

/** What install returns in a build it left alone (trial, release, `enabled: false`). */
export interface Inert {
  readonly active: false;
  /** Why: `release build`, `trial build`, `enabled: false`, ... */
  readonly reason: string;
  uninstall(): void;
  withMockPhone<H>(handler: H, options?: PhoneOptions): H;
}

/**
 * Patches wx.login, wx.checkSession, wx.getUserProfile, wx.getUserInfo, wx.getShareInfo and
 * wx.getWeRunData to answer from the mock, in a development build or with `enabled: true`;
 * elsewhere does nothing. Call it on the first line of app.js.
 */
export function install(config: InstallConfig): Installation | Inert;

/** The detail of a phone button's event, as the mock answers it. */
export interface PhoneDetail {
  errMsg: string;
  code?: string;
  encryptedData?: string;
  iv?: string;
  /** 1400001 when the app is out of phone-number quota. */
  errno?: number;
}

export interface PhoneEvent {
  type?: string;
  detail: PhoneDetail;
  [key: string]: any;
}

export interface PhoneOptions {
  /** Default: from the event type (`getrealtimephonenumber` or else getPhoneNumber). */
  kind?: PhoneKind;
  /** The user declines: `<kind>:fail user deny`. */
  deny?: boolean;
  /** Spoil the legacy encryptedData. */
  tamper?: Tamper;
}

/**
 * Wraps a phone-button handler so its event's detail comes from the mock. Without an active
 * installation it returns the handler itself.
 */
export function withMockPhone<H extends (this: any, event: PhoneEvent, ...rest: any[]) => any>(
  handler: H,
  options?: PhoneOptions,
): H;

/** `Page(withMockPhonePage({...}, ['onGetPhoneNumber']))`. */
export function withMockPhonePage<D extends Record<string, any>>(
  definition: D,
  handlerNames: string | string[],
  options?: PhoneOptions,
): D;

/** `Component(withMockPhoneComponent({ methods: {...} }, ['onGetPhoneNumber']))`. */
export function withMockPhoneComponent<D extends { methods?: Record<string, any> }>(
  definition: D,
  handlerNames: string | string[],
  options?: PhoneOptions,
): D;

export const PATCHED: PatchedApi[];
export const TOURIST_APPID: 'touristappid';
/** Storage keys read on every call: `wx.setStorageSync(STORAGE_KEYS.user, 'bob')`. */
export const STORAGE_KEYS: { readonly user: 'wx-login-kit:user'; readonly deny: 'wx-login-kit:deny' };
/** `getApp().globalData` keys read on every call; they win over storage. */
export const GLOBAL_DATA_KEYS: { readonly user: 'wxLoginKitUser'; readonly deny: 'wxLoginKitDeny' };
