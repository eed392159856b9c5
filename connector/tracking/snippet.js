/* closedloop first-party tracking snippet. Served minified at /t.js; config is injected as JSON.
 * Names are short on purpose (the minifier does not rename): C config, J cookie jar,
 * V visitor ID, S send, P page view, I identify, N consent, Q set cookie, O form submit.
 * Nothing here may throw into the host page. */
(function (w, d) {
  var C = __CLOSEDLOOP_CONFIG__, L = w.location,
    K = ['gclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'ttclid', 'li_fat_id'],
    U = ['source', 'medium', 'campaign', 'term', 'content'];

  // Cookies as an object.
  function J() {
    var o = {}, a = d.cookie ? d.cookie.split('; ') : [], i, e;
    for (i = 0; i < a.length; i++) {
      e = a[i].indexOf('=');
      try { o[a[i].slice(0, e)] = decodeURIComponent(a[i].slice(e + 1)); } catch (x) {}
    }
    return o;
  }

  // First-party cookie: SameSite=Lax, Secure on https, domain from config.
  function Q(n, v, y) {
    d.cookie = n + '=' + encodeURIComponent(v) + '; Max-Age=' + y * 864e2 +
      '; Path=/; SameSite=Lax' + (C.domain ? '; Domain=' + C.domain : '') +
      (L.protocol == 'https:' ? '; Secure' : '');
  }

  function G(x) { return x === true || x === 'granted'; }

  // Consent from the configured global (a boolean, 'granted'/'denied', or an object with
  // ad_user_data / ad_personalization), else the configured default.
  function N() {
    var o = w, p = C.consentGlobal ? C.consentGlobal.split('.') : [], i, u;
    for (i = 0; i < p.length && o != null; i++) o = o[p[i]];
    if (!p.length || o == null) u = C.consentDefault == 'granted';
    else if (typeof o == 'object') return { ad_user_data: G(o.ad_user_data), ad_personalization: G(o.ad_personalization) };
    else u = G(o);
    return { ad_user_data: u, ad_personalization: u };
  }

  // sendBeacon (text/plain, no preflight), fetch with keepalive as the fallback.
  function S(url, p) {
    var b = JSON.stringify(p), n = w.navigator;
    try { if (n.sendBeacon && n.sendBeacon(url, b)) return; } catch (x) {}
    if (w.fetch) w.fetch(url, { method: 'POST', body: b, keepalive: true, credentials: 'omit', headers: { 'Content-Type': 'text/plain' } })['catch'](function () {});
  }

  function V() {
    var id = J()[C.cookie], a, i;
    if (!/^[\w.-]{8,64}$/.test(id || '')) {
      a = w.crypto.getRandomValues(new Uint8Array(16));
      for (id = '', i = 0; i < 16; i++) id += (a[i] + 256).toString(16).slice(1);
    }
    Q(C.cookie, id, C.days);
    return id;
  }

  function P() {
    var j = J(), q = new URLSearchParams(L.search), t = Date.now(), c = N(), k, v, i, m;
    var p = { visitor_id: V(), url: L.href, ts: t, consent: c };
    var ids = {}, utm = {}, n = 0, nu = 0;
    for (i = 0; i < K.length; i++) if ((v = q.get(K[i]))) { ids[K[i]] = v; n++; }
    for (i = 0; i < U.length; i++) if ((v = q.get('utm_' + U[i]))) { utm[U[i]] = v; nu++; }
    if (n) p.click_ids = ids;
    if (nu) p.utm = utm;
    // Meta's _fbc is fb.1.<click time in ms>.<fbclid>; create it when the site has none.
    if (!j._fbc && ids.fbclid && c.ad_user_data) Q('_fbc', j._fbc = 'fb.1.' + t + '.' + ids.fbclid, 90);
    if (d.referrer) p.referrer = d.referrer;
    if (d.title) p.title = d.title.slice(0, 512);
    if ((m = /^GA\d\.\d\.(\d+\.\d+)$/.exec(j._ga || ''))) p.ga_client_id = m[1];
    // GA4 session ID: GS1.1.<id>.… or GS2.1.s<id>$… in _ga_<container>.
    for (k in j) {
      if (C.gaContainer ? k == '_ga_' + C.gaContainer : !k.indexOf('_ga_')) {
        if ((m = /^GS\d\.\d\.s?(\d+)/.exec(j[k]))) p.ga_session_id = m[1];
      }
    }
    if (j._fbp) p.fbp = j._fbp;
    if (j._fbc) p.fbc = j._fbc;
    if (j.hubspotutk) p.hubspotutk = j.hubspotutk;
    S(C.url + '/collect', p);
  }

  function I(f) {
    try {
      f = f || {};
      var p = { kind: 'form', visitor_id: V(), page_url: L.href, ts: Date.now() };
      if (f.email) p.email = '' + f.email;
      if (f.phone) p.phone = '' + f.phone;
      if (p.email || p.phone) S(C.url + '/identify', p);
    } catch (x) {}
  }

  // Forms matching the configured selector send their email/phone fields on submit.
  function O(e) {
    try {
      var f = e.target, q = function (s) { var x = f.querySelector(s); return x && x.value; };
      if (C.forms && f.matches && f.matches(C.forms)) {
        I({ email: q('input[type=email],input[name*=email i]'), phone: q('input[type=tel],input[name*=phone i]') });
      }
    } catch (x) {}
  }

  try {
    w.closedloop = { identify: I, page: function () { try { P(); } catch (x) {} } };
    d.addEventListener('submit', O, true);
    P();
  } catch (x) {}
})(window, document);
