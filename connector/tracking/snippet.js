/* closedloop first-party tracking snippet. Served minified at /t.js; config is injected as JSON.
 * Names are short on purpose (the minifier does not rename): C config, J cookie jar,
 * V visitor ID, S send, P page view, I identify, N consent, Q set cookie, O form submit,
 * F Meta click cookie, M consent given after load, R record a consent change, A apply one,
 * W watch Google's dataLayer. Nothing here may throw into the host page. */
(function (w, d) {
  var C = __CLOSEDLOOP_CONFIG__, L = w.location, M, B, H, Z = 0, E = 'ad_user_data', D = 'ad_personalization',
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
  function Y(u, p) { var o = {}; o[E] = u; o[D] = p; return o; }

  // Consent: a change given after load (Consent Mode update, closedloop.consent) wins; else the
  // configured global (a boolean, 'granted'/'denied', or an object with ad_user_data /
  // ad_personalization); else Google Consent Mode's state in the dataLayer; else the default.
  function N() {
    var o = w, p = C.consentGlobal ? C.consentGlobal.split('.') : [], i;
    if (M) return Y(M[E], M[D]);
    for (i = 0; i < p.length && o != null; i++) o = o[p[i]];
    if (p.length && o != null) return typeof o == 'object' ? Y(G(o[E]), G(o[D])) : Y(G(o), G(o));
    return H ? Y(H[E], H[D]) : Y(i = C.consentDefault == 'granted', i);
  }

  // Merge the keys a consent object has (others keep their value) into the state s.
  function A(s, o) {
    s = s || N();
    if (o[E] != null) s[E] = G(o[E]);
    if (o[D] != null) s[D] = G(o[D]);
    return s;
  }

  // A consent change after load: remember it, record it (a consent hit), renew _fbc if allowed.
  function R(o) {
    var c = M = A(M, o), j = J();
    if (!B || B[E] !== c[E] || B[D] !== c[D]) {
      B = Y(c[E], c[D]);
      F(j, new URLSearchParams(L.search).get('fbclid'), Z || Date.now(), c);  // click = page load
      S(C.url + '/collect', T({ visitor_id: V(), url: L.href, ts: Date.now(), consent: c, event: 'consent' }, j));
    }
  }

  // Google Consent Mode: gtag('consent', 'default'|'update', {...}) pushes its arguments to the
  // dataLayer. What is queued is read now; later pushes are seen by wrapping push (Google's own
  // loader chains an existing push, so both keep working). Before the page view they only set
  // the state it reports; after it, each change is recorded.
  function W() {
    var l = w.dataLayer = w.dataLayer || [], o = l.push, i;
    function g(e) {
      if (e && e[0] == 'consent' && /^(default|update)$/.test(e[1]) && e[2] && typeof e[2] == 'object') B ? R(e[2]) : H = A(H, e[2]);
    }
    for (i = 0; i < l.length; i++) g(l[i]);
    l.push = function () {
      var r = o.apply(l, arguments), k;
      try { for (k = 0; k < arguments.length; k++) g(arguments[k]); } catch (x) {}
      return r;
    };
  }

  // Meta's _fbc = fb.<subdomain index>.<click time ms>.<fbclid>, rewritten whenever the URL's
  // fbclid differs from the cookie's 4th part (as Meta's pixel and parameter builder do); the
  // index counts the labels of the cookie's domain (example.com 1, host-only www.example.com 2,
  // an IP 0).
  function F(j, f, t, c) {
    var h = (C.domain || L.hostname).replace(/^\.|^\[|\]$/g, '');
    if (f && /^[\w-]{1,500}$/.test(f) && c[E] && (j._fbc || '').split('.')[3] !== f) {
      Q('_fbc', j._fbc = 'fb.' + (/^[\d.]+$|:/.test(h) ? 0 : h.split('.').length - 1) + '.' + t + '.' + f, 90);
    }
  }

  // Browser IDs every hit carries.
  function T(p, j) {
    if (j._fbp) p.fbp = j._fbp;
    if (j._fbc) p.fbc = j._fbc;
    return p;
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
    var p = { visitor_id: V(), url: L.href, ts: Z = t, consent: c };
    var ids = {}, utm = {}, n = 0, nu = 0;
    for (i = 0; i < K.length; i++) if ((v = q.get(K[i]))) { ids[K[i]] = v; n++; }
    for (i = 0; i < U.length; i++) if ((v = q.get('utm_' + U[i]))) { utm[U[i]] = v; nu++; }
    if (n) p.click_ids = ids;
    if (nu) p.utm = utm;
    F(j, ids.fbclid, t, c);
    if (d.referrer) p.referrer = d.referrer;
    if (d.title) p.title = d.title.slice(0, 512);
    if ((m = /^GA\d\.\d\.(\d+\.\d+)$/.exec(j._ga || ''))) p.ga_client_id = m[1];
    // GA4 session ID: GS1.1.<id>.… or GS2.1.s<id>$… in _ga_<container>.
    for (k in j) {
      if (C.gaContainer ? k == '_ga_' + C.gaContainer : !k.indexOf('_ga_')) {
        if ((m = /^GS\d\.\d\.s?(\d+)/.exec(j[k]))) p.ga_session_id = m[1];
      }
    }
    T(p, j);
    if (j.hubspotutk) p.hubspotutk = j.hubspotutk;
    B = c;
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
    w.closedloop = {
      identify: I,
      page: function () { try { P(); } catch (x) {} },
      // closedloop.consent({ad_user_data: 'granted'|'denied', ad_personalization: ...}) from a CMP.
      consent: function (o) { try { if (o && typeof o == 'object') R(o); } catch (x) {} }
    };
    d.addEventListener('submit', O, true);
    try { W(); } catch (x) {}
    P();
  } catch (x) {}
})(window, document);
