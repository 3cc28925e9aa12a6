// Type declarations of wx-login-kit/node.

import type {
  DeclinableApi,
  Inert,
  InstallConfig,
  Installation,
  PatchedApi,
  PhoneDetail,
  PhoneKind,
  Tamper,
  WxLike,
} from '../index';

export interface NodeWxOptions {
  /** What getAccountInfoSync reports; default 'touristappid' (the mock's default app). */
  appid?: string;
  /** Default 'develop'. */
  envVersion?: 'develop' | 'trial' | 'release';
}

/** request (node:http), synchronous storage and getAccountInfoSync, working in Node. */
export function createNodeWx(options?: NodeWxOptions): WxLike;

export interface GlobalWxConfig extends Partial<Omit<InstallConfig, 'wx' | 'appid'>>, NodeWxOptions {}

export interface GlobalWxSession {
  wx: WxLike;
  /** null when no `mock` was given (the app under test installs the shim itself). */
  installation: Installation | Inert | null;
  /** Uninstalls and puts back what global.wx had. */
  uninstall(): void;
}

/**
 * Completes global.wx (miniprogram-simulate's, or a new one) with the Node parts and, when
 * `mock` is given, installs the shim on it.
 */
export function installGlobalWx(config?: GlobalWxConfig): GlobalWxSession;

/** wx.request over node:http / node:https. */
export function request(options: Record<string, any>): { abort(): void };

/** The parts of miniprogram-automator's MiniProgram the helpers use. */
export interface AutomatorMiniProgram {
  mockWxMethod(method: string, result: any, ...args: any[]): Promise<void>;
  restoreWxMethod(method: string): Promise<void>;
  evaluate(appFunction: Function | string, ...args: any[]): Promise<any>;
}

/** The parts of miniprogram-automator's Page the helpers use. */
export interface AutomatorPage {
  path: string;
  $(selector: string): Promise<{ trigger(type: string, detail?: any): Promise<void> } | null>;
}

export interface AutomatorConfig {
  mock: string;
  user: string;
  appid?: string;
  token?: string;
  strict?: boolean;
  deny?: DeclinableApi[];
  timeout?: number;
  /** The app method that logs in, run again after the mocks are in place; default 'login'; false skips it. */
  relogin?: string | false;
}

/** Replaces the six wx APIs through mockWxMethod, then runs `getApp()[relogin]()`. */
export function mockWxLogin(miniProgram: AutomatorMiniProgram, config: AutomatorConfig): Promise<any>;

/** Puts the six wx APIs back. */
export function restoreWxLogin(miniProgram: AutomatorMiniProgram): Promise<void>;

export interface TapPhoneOptions extends Omit<AutomatorConfig, 'relogin' | 'deny'> {
  kind?: PhoneKind;
  deny?: boolean;
  tamper?: Tamper;
}

/** Asks the mock for a phone-button detail and triggers the button's event with it. */
export function tapPhoneButton(page: AutomatorPage, selector: string, options: TapPhoneOptions): Promise<PhoneDetail>;

/** The function source mockWxMethod runs in the mini-program for `api`. */
export function mockedMethodSource(api: PatchedApi): string;
