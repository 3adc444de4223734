// CourseSignal first-party tracking script (served as /t.js, see ../README.md for the contract).
// Plain ES2017 (no optional chaining / nullish coalescing); esbuild minifies it into adapters/web/static/t.js.
// Rule: nothing in here may ever throw into the host page. Every entry point (top level, event
// listeners, the history wrappers and the public cs() function) runs inside try/catch.
(() => {
  try {
    const w = window;
    const d = document;
    const nav = navigator;
    const loc = location;
    const hist = history;

    const VID = '_csv'; // cookie + localStorage key, and the cross-domain query parameter
    const OPT = '_cs_optout'; // opt-out flag (localStorage, cookie as backup)
    const YEAR = 31536000;
    const HANDOFF_TTL = 300; // seconds a cross-domain `_csv=<id>.<unix ts>` parameter stays valid
    // (a missing value must not pass as the string 'undefined', which matches the pattern)
    const validId = (x) => x && /^[\w-]{8,64}$/.test(x);

    const noop = () => {};
    const safe =
      (fn) =>
      (...args) => {
        try {
          return fn(...args);
        } catch (e) {}
      };
    const on = (type, fn, target) => (target || d).addEventListener(type, safe(fn), true);
    const now = () => Math.floor(Date.now() / 1000);
    const lower = (s) => (s || '').toLowerCase();
    // 4 x 32 random bits, each written as exactly 7 base-36 chars (2^32..2^33-1): 28 chars of [0-9a-z]
    const rnd = () =>
      [].map.call(crypto.getRandomValues(new Uint32Array(4)), (x) => (x + 4294967296).toString(36)).join('');

    if (w.cs && w.cs.l) return; // snippet pasted twice: the first copy wins

    // ------------------------------------------------------------ configuration from our own tag
    // (set for every classic script while it first runs, async ones too, in every ES2017 browser)
    const me = d.currentScript;
    const data = me.dataset;
    const site = data.site;
    const endpoint = new URL(me.src).origin + '/t/e';
    // empty entries (stray spaces/commas) never match a hostname, so they need no filtering
    const domains = lower(data.domains).split(/[\s,]+/);
    // the creator's own checkout paths (data-checkout="/order,/buy-now"), beside the usual ones below
    const checkouts = lower(data.checkout).split(/[\s,]+/);

    // public API: replaces the page's queue stub; queued calls are replayed at the end
    const queued = (w.cs && w.cs.q) || [];
    // (an unknown command throws inside safe() and is ignored)
    const api = (w.cs = safe((cmd, arg) => ({ identify, optout, optin })[cmd](arg)));
    api.l = 1;
    // data-respect-gpc="1" + GPC/DNT: write nothing, send nothing, swallow cs() calls.
    if (data.respectGpc == 1 && (nav.globalPrivacyControl || /1|yes/.test(nav.doNotTrack))) {
      w.cs = noop;
      return;
    }

    // ------------------------------------------------------------ storage helpers (all swallow errors)
    // ls(k) reads, ls(k, v) writes, ls(k, 0) deletes; always returns the stored value afterwards
    const ls = safe((k, v) => {
      const s = localStorage;
      v ? s.setItem(k, v) : v === 0 && s.removeItem(k);
      return s.getItem(k);
    });
    const getCookie = safe((k) => d.cookie.match('(^|; )' + k + '=([^;]*)')[2]);
    const setCookie = safe(
      (k, v, maxAge, domain) =>
        (d.cookie =
          k + '=' + v + ';path=/;max-age=' + maxAge + ';SameSite=Lax' + (domain ? ';domain=' + domain : '') +
          (loc.protocol == 'https:' ? ';Secure' : ''))
    );

    // Registrable domain by probing: browsers refuse cookies on public suffixes, so the first (shortest)
    // candidate that accepts a test cookie is the site's own domain. '' means host-only cookies
    // (IP addresses, localhost, or cookies blocked altogether).
    let cookieDomain = '';
    const host = loc.hostname;
    if (!/^[\d.]+$|:|^[^.]+$/.test(host)) {
      const parts = host.split('.');
      for (let i = parts.length - 2; i >= 0 && !cookieDomain; i--) {
        const cand = parts.slice(i).join('.');
        // hosting platforms that are (or should be treated as) public suffixes
        if (/^(herokuapp\.com|(vercel|netlify)\.app|github\.io)$/.test(cand)) continue;
        setCookie('_cs_p', 1, 9, cand);
        if (getCookie('_cs_p')) {
          setCookie('_cs_p', '', -1, cand);
          cookieDomain = cand;
        }
      }
    }
    const delCookie = (k) => {
      setCookie(k, '', -1, cookieDomain);
      setCookie(k, '', -1);
    };
    const optedOut = () => ls(OPT) == 1 || getCookie(OPT) == 1;

    // ------------------------------------------------------------ visitor id
    let vid;
    // Writes the id to both stores; undefined when neither kept it (then `v` is left out of events).
    const keepVid = (id) => {
      setCookie(VID, id, YEAR, cookieDomain);
      return ls(VID, id) == id || getCookie(VID) == id ? id : undefined;
    };
    // The cookie wins over localStorage (it is shared across subdomains); the survivor restores the other.
    const loadVid = () => {
      const c = getCookie(VID);
      const l = ls(VID);
      return keepVid(validId(c) ? c : validId(l) ? l : rnd());
    };

    // ------------------------------------------------------------ transport
    // undefined fields (v when storage is unavailable, e outside identify) are dropped by JSON.stringify;
    // `u` is the page, except for a click, where it is the checkout the click leads to (and `r` the page)
    const send = (n, r, u, e) => {
      if (optedOut()) return;
      const body = JSON.stringify({ s: site, n: n, i: rnd(), v: vid, u: u || loc.href, r: r || d.referrer, e: e });
      // a string body goes as text/plain;charset=UTF-8 with both: no CORS preflight
      if (!safe(() => nav.sendBeacon(endpoint, body))()) {
        // a blocked endpoint rejects: swallow it, never an unhandled rejection in the host page
        fetch(endpoint, { method: 'POST', body: body, keepalive: true }).catch(noop);
      }
    };

    // ------------------------------------------------------------ identify / opt-out
    const seenEmails = {};
    const identify = (raw) => {
      const email = lower(raw + '').trim();
      if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) && !seenEmails[email] && !optedOut()) {
        seenEmails[email] = 1;
        send('identify', 0, 0, email);
      }
    };
    const optout = () => {
      ls(OPT, 1);
      setCookie(OPT, 1, YEAR, cookieDomain);
      delCookie(VID);
      ls(VID, 0);
      vid = undefined;
    };
    const optin = () => {
      ls(OPT, 0);
      delCookie(OPT);
      vid = loadVid();
    };

    // ------------------------------------------------------------ landing: opt-out link, cross-domain hand-off
    const params = new URL(loc.href).searchParams;
    if (params.get('cs_optout') == 1) optout();
    const handoff = params.get(VID);
    let adopted;
    if (handoff != null) {
      const m = /^([\w-]{8,64})\.(\d+)$/.exec(handoff);
      const age = m ? now() - m[2] : 1e9;
      if (age <= HANDOFF_TTL && age > -60) adopted = m[1];
      // strip it, valid or not, so it never ends up in bookmarks, shared links or our own `u`
      hist.replaceState(hist.state, '', loc.pathname + stripParam(loc.search, VID) + loc.hash);
    }
    if (!optedOut()) vid = adopted ? keepVid(adopted) : loadVid();

    // ------------------------------------------------------------ pageviews: load, SPA navigation, bfcache
    let lastPath;
    let lastHref;
    const pageview = (spa) => {
      const path = loc.pathname + loc.search;
      if (spa && path == lastPath) return;
      // an SPA navigation reports the previous in-app URL as its referrer
      send('pageview', spa && lastHref);
      lastPath = path;
      lastHref = loc.href;
    };
    ['pushState', 'replaceState'].forEach((name) => {
      const orig = hist[name];
      hist[name] = function () {
        const result = orig.apply(this, arguments);
        safe(pageview)(1);
        return result;
      };
    });
    on('popstate', () => pageview(1), w);
    on('pageshow', (e) => e.persisted && pageview(), w);

    // ------------------------------------------------------------ leaving the page: hand-off, Stripe, checkout
    // A link or POST form action to another of the creator's domains gets the hand-off parameter, one to
    // Stripe our id as client_reference_id (unless it carries one): returns that decorated URL, or ''.
    // `go`: the click or submit that navigates. When it leads to a checkout, the server is told that this
    // browser reached checkout (for timing matches), by sendBeacon so it survives the navigation. The hosts
    // and paths are core/domain/checkout.py's; a browser test keeps the two in step.
    const leave = (href, go, keep) => {
      const url = new URL(href, loc);
      const h = url.hostname;
      let key = VID;
      let value = vid + '.' + now();
      let out = '';
      if (/^https?:$/.test(url.protocol)) {
        if (/^(buy|checkout)\.stripe\.com$/.test(h)) {
          key = 'client_reference_id';
          value = !/[?&]client_reference_id=/.test(url.search) && vid;
        } else if (h == host || !domains.some((dm) => ('.' + h).endsWith('.' + dm))) value = '';
        if (vid && value && !keep) {
          const rest = stripParam(url.search, key);
          url.search = rest + (rest ? '&' : '') + key + '=' + value;
          out = url.href;
        }
        if (
          go &&
          (/^(buy|checkout|pay)\.|^sso\.teachable\.com$|(^|\.)paypal\.com$/.test(h) ||
            /\/(checkout|purchase|cart)(\/|$)|^\/offers\/[^/]+\/?$/i.test(url.pathname) ||
            checkouts.some((path) => path && !lower(url.pathname).indexOf(path)))
        )
          send('click', loc.href, url.href);
      }
      return out;
    };
    const onLink = (e) => {
      const a = e.target.closest('a[href]');
      // mousedown only decorates: the click (or middle click) that follows is the one that navigates
      const href = a && leave(a.href, e.type != 'mousedown');
      if (href) a.href = href;
    };
    on('mousedown', onLink);
    on('click', onLink);
    on('auxclick', onLink);

    // ------------------------------------------------------------ email capture
    const isEmailField = (el) => {
      const type = lower(el.type);
      const meta = lower(el.name + ' ' + el.id + ' ' + el.autocomplete);
      // text-like inputs only (select/textarea/button/password/hidden/checkbox... all have another
      // `type`) with "email" in their type, name, id or autocomplete; never anything card-like
      return /^(email|text|search)?$/.test(type) && !/cc-|card|cvc|cvv/.test(meta) && /email/.test(type + meta);
    };
    on('submit', (e) => {
      const form = e.target;
      const action = form.getAttribute('action');
      // only POST forms carry the hand-off in their action URL (a GET form would replace the action's
      // query string with its fields)
      const decorated = action && leave(action, 1, lower(form.getAttribute('method')) != 'post');
      if (decorated) form.setAttribute('action', decorated);
      [].forEach.call(form.elements, (el) => isEmailField(el) && identify(el.value));
    });
    on('change', (e) => isEmailField(e.target) && identify(e.target.value));

    // ------------------------------------------------------------ go
    queued.forEach((args) => api.apply(null, args));
    pageview();
  } catch (e) {
    // never break the host page
  }

  // Removes every `k=...` parameter from a search string, keeping the other parameters byte-for-byte.
  function stripParam(search, k) {
    return search.replace(new RegExp('([?&])' + k + '=[^&#]*(&|$)', 'g'), (m, sep, next) => (next ? sep : ''));
  }
})();
