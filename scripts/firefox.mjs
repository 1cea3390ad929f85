// Debian's Firefox ESR and the preferences the browser tests launch it with (see the README's
// first section). Playwright cannot drive Debian's Firefox, so the tests launch it with
// puppeteer-core over WebDriver BiDi (never a downloaded browser).
export const FIREFOX_PATH = '/usr/bin/firefox-esr';

export const FIREFOX_PREFS = {
  // Let ICE use loopback addresses, as the README asks of Firefox tabs on the scheduler's own
  // machine (Chromium's --allow-loopback-in-peer-connection).
  'media.peerconnection.ice.loopback': true,
};
