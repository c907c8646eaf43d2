// Shared by the worker and planner pages: configuration, language, DOM helpers, basemaps and datums.
// Every string that comes from data is inserted with textContent or as an attribute value,
// never as HTML.
(function (root) {
  "use strict";
  var WM = root.WM = root.WM || {};
  WM.cfg = JSON.parse(document.getElementById("wm-config").textContent);

  // -- storage (private mode may refuse localStorage) ---------------------------------------
  WM.store = {
    get: function (k) { try { return root.localStorage.getItem("workermap." + k); } catch (e) { return null; } },
    set: function (k, v) { try { root.localStorage.setItem("workermap." + k, v); } catch (e) { /* ignore */ } }
  };

  // -- language ----------------------------------------------------------------------------
  var listeners = [];
  var i18n = WM.i18n = {
    lang: WM.store.get("lang") === "en" ? "en" : "zh",
    /** UI string ``key`` with ``{name}`` placeholders filled from ``vars``. */
    t: function (key, vars) {
      var s = (WM.cfg.strings[i18n.lang] || {})[key];
      if (s === undefined) { s = WM.cfg.strings.zh[key] || key; }
      if (vars) { s = s.replace(/\{(\w+)\}/g, function (m, n) { return vars[n] === undefined ? m : String(vars[n]); }); }
      return s;
    },
    /** Label of vocabulary value ``key`` in ``table`` (kinds, amenities, access, entry, status, worker_types). */
    vocab: function (table, key) {
      var t = (WM.cfg.vocab[table] || {})[key];
      return t ? t[i18n.lang] : String(key);
    },
    /** Fill every data-i18n* element under ``rootEl`` in the current language. */
    apply: function (rootEl) {
      var r = rootEl || document;
      document.documentElement.lang = i18n.lang === "en" ? "en" : "zh-CN";
      r.querySelectorAll("[data-i18n]").forEach(function (n) { n.textContent = i18n.t(n.dataset.i18n); });
      r.querySelectorAll("[data-i18n-ph]").forEach(function (n) { n.placeholder = i18n.t(n.dataset.i18nPh); });
      r.querySelectorAll("[data-i18n-aria]").forEach(function (n) { n.setAttribute("aria-label", i18n.t(n.dataset.i18nAria)); });
      r.querySelectorAll("[data-i18n-title]").forEach(function (n) { n.title = i18n.t(n.dataset.i18nTitle); });
      r.querySelectorAll("[data-vocab]").forEach(function (n) { n.textContent = i18n.vocab(n.dataset.vocab, n.dataset.key); });
      var lb = document.getElementById("lang");
      if (lb) { lb.setAttribute("lang", i18n.lang === "en" ? "zh-CN" : "en"); }
      document.title = i18n.t("title");
    },
    set: function (lang) {
      i18n.lang = lang === "en" ? "en" : "zh";
      WM.store.set("lang", i18n.lang);
      i18n.apply();
      listeners.forEach(function (fn) { fn(i18n.lang); });
    },
    onChange: function (fn) { listeners.push(fn); }
  };

  // -- DOM ---------------------------------------------------------------------------------
  /** el("a", {href: u, class: "x"}, ["text", node]) — text children become text nodes. */
  WM.el = function (tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === "text") { n.textContent = v; } else if (k === "class") { n.className = v; } else { n.setAttribute(k, v === true ? "" : v); }
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) { return; }
      n.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return n;
  };

  /** GET JSON; rejects with the API's error message (its one error shape) or the HTTP status. */
  WM.getJSON = function (url, options) {
    return fetch(url, Object.assign({ headers: { Accept: "application/json" }, credentials: "same-origin" }, options || {}))
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (!r.ok) {
            var msg = body && body.error ? body.error.message : "HTTP " + r.status;
            var err = new Error(msg);
            err.status = r.status;
            throw err;
          }
          return body;
        });
      });
  };

  // -- facility kind pictograms (inline SVG: no icon font, no external file) ---------------------
  var KIND_PATHS = {
    station: "M12 3 2 11.5h3V21h5v-6h4v6h5v-9.5h3z",
    shared_home: "M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2 20c0-3.3 2.7-6 6-6s6 2.7 6 6zm12.5 0c0-2-.7-3.8-1.9-5.2A6 6 0 0 1 22 20z",
    mother_room: "M12 21C5 15.5 2 12.3 2 8.5A4.5 4.5 0 0 1 12 6.3 4.5 4.5 0 0 1 22 8.5c0 3.8-3 7-10 12.5z",
    childcare: "M12 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM5 10h14v2.5h-4.5V22h-2v-5h-1v5h-2v-9.5H5z",
    apartment: "M5 2h14v20h-5v-4h-4v4H5zm3 3v2h2V5zm6 0v2h2V5zM8 9v2h2V9zm6 0v2h2V9zm-6 4v2h2v-2zm6 0v2h2v-2z"
  };
  /** SVG markup for ``kind`` (constant strings only — safe for divIcon html). */
  WM.kindSvg = function (kind) {
    var d = KIND_PATHS[kind] || "M12 4a8 8 0 1 0 0 16 8 8 0 0 0 0-16z";
    return '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill-rule="evenodd" d="' + d + '"/></svg>';
  };
  WM.fillKindIcons = function (rootEl) {
    (rootEl || document).querySelectorAll(".kind-icon[data-kind]").forEach(function (n) {
      if (!n.firstChild) { n.innerHTML = WM.kindSvg(n.dataset.kind); }
    });
  };

  // -- basemaps and datums -----------------------------------------------------------------
  /**
   * The basemaps folium put on the map, the datum of the one shown, and conversions.
   * ``toMap(lon, lat)`` gives the L.LatLng where a WGS84 point must be drawn on the current
   * basemap (shifted to GCJ-02 on AMap); ``fromMap(latlng)`` gives back WGS84 [lon, lat].
   */
  WM.Basemaps = function (map, basemaps, onDatum) {
    var self = this;
    var byId = {};
    basemaps.forEach(function (b) { b.layer = root[b.var]; byId[b.id] = b; });
    self.datum = "wgs84";
    self.id = basemaps.length ? basemaps[0].id : null;
    function current(layer) {
      for (var i = 0; i < basemaps.length; i++) { if (basemaps[i].layer === layer) { return basemaps[i]; } }
      return null;
    }
    var quiet = true;  // restoring the remembered basemap below: the page draws in that datum from the start
    function set(b) {
      var changed = b.datum !== self.datum && !quiet;
      self.datum = b.datum;
      self.id = b.id;
      document.body.dataset.basemap = b.id;
      document.body.dataset.datum = b.datum;
      WM.store.set("basemap", b.id);
      if (changed && onDatum) { onDatum(b.datum); }
    }
    map.on("baselayerchange", function (e) { var b = current(e.layer); if (b) { set(b); } });
    /** Show basemap ``id`` (as if chosen in the layer switcher). */
    self.show = function (id) {
      var b = byId[id];
      if (!b || b.id === self.id) { return; }
      basemaps.forEach(function (o) { if (o.layer && map.hasLayer(o.layer)) { map.removeLayer(o.layer); } });
      map.addLayer(b.layer);
      set(b);
    };
    self.toMap = function (lon, lat) {
      var p = root.WMDatum.fromWgs84(lon, lat, self.datum);
      return L.latLng(p[1], p[0]);
    };
    self.fromMap = function (latlng) { return root.WMDatum.toWgs84(latlng.lng, latlng.lat, self.datum); };
    /** Call ``fn`` once when a tile fails to load (tiles need the network; the page does not). */
    self.onTileError = function (fn) {
      var fired = false;
      basemaps.forEach(function (b) {
        var layers = b.layer && b.layer.eachLayer ? [] : [b.layer];
        if (b.layer && b.layer.eachLayer) { b.layer.eachLayer(function (l) { layers.push(l); }); }
        layers.forEach(function (l) { if (l) { l.on("tileerror", function () { if (!fired) { fired = true; fn(); } }); } });
      });
    };
    if (basemaps.length) {
      document.body.dataset.basemap = self.id;
      document.body.dataset.datum = self.datum;
    }
    var saved = WM.store.get("basemap");
    if (saved && byId[saved]) { self.show(saved); }
    quiet = false;
  };

  /** Distance text: "350 米" / "1.2 公里". */
  WM.distance = function (m) {
    if (m < 1000) { return i18n.t("m", { n: Math.round(m) }); }
    return i18n.t("km", { n: (m / 1000).toFixed(m < 10000 ? 1 : 0) });
  };
})(window);
