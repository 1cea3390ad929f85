export declare const FIREFOX_PATH: string;
export declare const FIREFOX_PREFS: Record<string, boolean | number | string>;
