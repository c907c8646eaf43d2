// The worker page's first step, run before the map scripts (Leaflet, the map, common.js, worker.js):
// when the phone already allowed geolocation, locate it and ask /api/v1/nearest at once, so the
// nearest list does not wait for those scripts, the map layer or its 1,700 markers. worker.js takes
// the answers (WMBoot.take) when it starts, and builds every nearest URL with WMBoot.nearestUrl.
// Its settings come from its own script tag: data-nearest (the endpoint), data-k (list length) and
// data-access (worker type -> the access values it may enter).
//
// A fix under a minute old (the age getCurrentPosition accepts here, maximumAge) is kept on the phone
// (localStorage "workermap.fix", removed once older): the list for it is asked at once, while the phone
// is located again. The answer is used only if the new fix is the same point (the same URL); the list
// always shows where the phone is now.
(function () {
  "use strict";
  var tag = document.currentScript;
  var access = JSON.parse(tag.dataset.access);

  /** The least-privileged worker type (open to all outdoor workers): who "may enter" means when none is chosen. */
  function guest(workerAccess) {
    return Object.keys(workerAccess).sort(function (a, b) {
      return workerAccess[a].length - workerAccess[b].length;
    })[0];
  }

  /**
   * The nearest query for WGS84 ``pos`` under filters ``flt``: ``now`` = open at minute ``at`` ("now" or the
   * minute /worker/hours evaluated) and enterable by the chosen (else the ``guestType``) worker; otherwise
   * every place nearby, closed and restricted ones included.
   */
  function nearestUrl(base, k, guestType, pos, flt, now, at) {
    var q = new URLSearchParams();
    q.set("lon", pos.lon.toFixed(7));
    q.set("lat", pos.lat.toFixed(7));
    q.set("k", String(k));
    if (flt.h24) { q.set("open_24h", "true"); }
    if (flt.kinds.length) { q.set("kind", flt.kinds.join(",")); }
    if (flt.amenities.length) { q.set("amenity", flt.amenities.join(",")); }
    if (now) {
      q.set("worker", flt.worker || guestType);
      q.set("open_at", at || "now");
      q.set("include_closed", "false");
    } else {
      if (flt.worker) { q.set("worker", flt.worker); }
      q.set("open_at", "any");
      q.set("include_closed", "true");
    }
    return base + "?" + q.toString();
  }

  /** The filters the page will restore (worker.js keeps them under WM.store "filters"), as readFilters gives them. */
  function savedFilters() {
    var f = null;
    try { f = JSON.parse(window.localStorage.getItem("workermap.filters") || "null"); } catch (e) { f = null; }
    if (!f || !Array.isArray(f.kinds) || !Array.isArray(f.amenities)) {
      return { kinds: [], amenities: [], open: false, h24: false, worker: "" };
    }
    return { kinds: f.kinds, amenities: f.amenities, open: !!f.open, h24: !!f.h24,
      worker: access[f.worker] ? f.worker : "" };
  }

  var asked = {};
  function ask(url) {
    if (asked[url]) { return; }
    asked[url] = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }
  /** Ask for the list at ``pos`` with the filters the page will restore: open now, and (unless only open
   * places are wanted) every place nearby. */
  function askList(pos) {
    var flt = savedFilters(), k = Number(tag.dataset.k), base = tag.dataset.nearest, g = guest(access);
    ask(nearestUrl(base, k, g, pos, flt, true, "now"));
    if (!flt.open) { ask(nearestUrl(base, k, g, pos, flt, false)); }
  }

  var FIX_KEY = "workermap.fix";
  var FIX_MAX_AGE_MS = 60000;
  function lastFix() {
    var fix = null;
    try { fix = JSON.parse(window.localStorage.getItem(FIX_KEY) || "null"); } catch (e) { fix = null; }
    if (fix && Date.now() - fix.t < FIX_MAX_AGE_MS) { return fix; }
    try { window.localStorage.removeItem(FIX_KEY); } catch (e) { /* private mode */ }
    return null;
  }

  var boot = window.WMBoot = {
    guest: guest,
    nearestUrl: nearestUrl,
    /** The answer asked early for ``url`` (a promise of its JSON, null if it failed), once; else null. */
    take: function (url) {
      var p = asked[url] || null;
      delete asked[url];
      return p;
    },
    /** A promise of the GPS position ({lon, lat, accuracy, source: "gps"}), {denied: true}, or null when not allowed yet. */
    position: Promise.resolve(null),
    /** Whether the phone is being located (geolocation was already allowed). */
    locating: false,
    /** Keep a GPS fix for the next page load (see above). */
    remember: function (pos) {
      var fix = { lon: pos.lon, lat: pos.lat, t: Date.now() };
      try { window.localStorage.setItem(FIX_KEY, JSON.stringify(fix)); } catch (e) { /* private mode */ }
    }
  };

  if (!navigator.geolocation || !navigator.permissions || !navigator.permissions.query) { return; }
  boot.position = navigator.permissions.query({ name: "geolocation" }).then(function (s) {
    if (s.state !== "granted") { return null; }
    boot.locating = true;
    var fix = lastFix();
    if (fix) { askList(fix); }
    return new Promise(function (resolve) {
      navigator.geolocation.getCurrentPosition(function (r) {
        var pos = { lon: r.coords.longitude, lat: r.coords.latitude, accuracy: r.coords.accuracy, source: "gps" };
        boot.remember(pos);
        askList(pos);  // nothing new when it is the fix asked for already
        resolve(pos);
      }, function () { resolve({ denied: true }); }, { enableHighAccuracy: true, timeout: 15000, maximumAge: FIX_MAX_AGE_MS });
    });
  }).catch(function () { return null; });
})();
