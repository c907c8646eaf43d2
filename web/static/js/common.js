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
  /** Mainland China's time zones (IANA names and their old aliases). */
  var CHINA_ZONES = ["Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi",
    "Asia/Kashgar", "PRC"];

  /**
   * Whether to treat the reader as in mainland China (for the default basemap): the page is not
   * switched to English, the browser's first language is Chinese (zh, zh-CN, zh-Hans …) and its
   * time zone is mainland China's. Anything else is "abroad".
   */
  WM.inChina = function () {
    if (i18n.lang === "en") { return false; }
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    if (!/^zh(-|$)/i.test(String(langs[0] || ""))) { return false; }
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
    return CHINA_ZONES.indexOf(tz) >= 0;
  };

  var OFFLINE_STYLE = {
    sea: "#aad3df",
    beyond: "#d9d9d9",  // a region's basemap knows nothing beyond its own land (not necessarily sea)
    land: { stroke: true, color: "#9cb9c6", weight: 1, fill: true, fillColor: "#e4e0d6", fillOpacity: 1 },
    district: { stroke: true, color: "#7d6aa8", weight: 1.5, dashArray: "6 4", fill: true, fillOpacity: 1 },
    districtFills: ["#f6f1e4", "#efeadb"]
  };
  var LABEL_ZOOM = { district: 7, place: 10, facility: 16 };
  var MAX_FACILITY_LABELS = 150;
  var MAX_ZOOM = 19;

  /** A label (a DOM element, so its text is text, never HTML) as a non-interactive marker in ``pane``. */
  function labelMarker(lat, lon, cls, pane) {
    var span = document.createElement("span");
    span.className = "wm-base-label " + cls;
    var s = span.style;
    s.position = "absolute";
    s.whiteSpace = "nowrap";
    s.color = cls === "district" ? "#4b3b78" : "#333";
    s.font = (cls === "district" ? "700 14px/1.2 " : cls === "facility" ? "12px/1.2 " : "13px/1.2 ") +
      "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif";
    s.textShadow = "0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff";
    if (cls === "facility") { s.left = "18px"; s.top = "-8px"; } else { s.transform = "translate(-50%, -50%)"; }
    var icon = L.divIcon({ className: "wm-base-label-icon", html: span, iconSize: null });
    var m = L.marker([lat, lon], { icon: icon, pane: pane, interactive: false, keyboard: false });
    m.label = span;
    return m;
  }

  /** Ray casting: is [lon, lat] inside a (Multi)Polygon's coordinates? */
  function insidePolygon(geom, lon, lat) {
    var polys = geom.type === "Polygon" ? [geom.coordinates] : geom.coordinates;
    return polys.some(function (rings) {
      var inside = false;
      rings.forEach(function (ring) {
        for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
          if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) { inside = !inside; }
        }
      });
      return inside;
    });
  }

  /** A script of ours, loaded when first needed (the street renderer: only where an extract is imported). */
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }

  /**
   * The offline basemap: sea (the map's background), land (GSHHG shore, so the neighbours are not
   * sea), the districts with their boundaries, district and town names, and facility names at high
   * zoom, drawn on a canvas from shipped data (``url``: web/basemap.py) into ``group``, the empty
   * layer group the page's map skeleton put in the layer switcher. WGS84: nothing is shifted.
   * With an imported OpenStreetMap extract (``streets``: the page config's entry, else null) its
   * streets, water, green and names are drawn over the land (``WM.streetLayer``, js/streets.js: it and
   * the renderer's script are loaded only then).
   */
  function OfflineBasemap(map, group, url, streets) {
    var self = this;
    function pane(name, z) {
      if (!map.getPane(name)) {
        var p = map.createPane(name);
        p.style.zIndex = String(z);
        p.style.pointerEvents = "none";
      }
      return name;
    }
    var renderer = L.canvas({ pane: pane("wmBasePane", 150), padding: 0.5 });
    var labelPane = pane("wmBaseLabels", 390);  // above the vector overlays' canvas, below every marker
    var fixed = L.layerGroup();  // district and town labels at their own points
    var floating = L.layerGroup();  // names of districts whose label point is out of view
    var facilityLabels = L.layerGroup();
    var labels = [];  // {marker, props, layer}
    var districts = [];  // district features (for point-in-polygon)
    var loading = null;
    var facilities = null;
    var facilitiesLoading = null;
    var viewTiles = null;  // a large registry (WM.cfg.viewport): the view's tiles for the facility labels
    self.drawn = false;
    var streetsLoading = null;
    self.streets = null;

    function drawStreets() {
      if (!streets || streetsLoading) { return; }
      document.body.dataset.streets = "loading";
      streetsLoading = Promise.all(streets.scripts.map(loadScript)).then(function () {
        self.streets = WM.streetLayer(root.protomapsL, streets, pane("wmStreetPane", 160));
        self.streets.on("load", function () { document.body.dataset.streets = "drawn"; });
        group.addLayer(self.streets);
      }, function () { document.body.dataset.streets = "failed"; });
    }
    i18n.onChange(function () {
      if (self.streets) { self.streets.clearLayout(); self.streets.rerenderTiles(); }
    });

    function text(p) { return i18n.lang === "en" ? (p.name_en || p.name) : p.name; }

    function draw(doc) {
      var land = [], places = [];
      if (doc.beyond === "unknown") { background = OFFLINE_STYLE.beyond; map.getContainer().style.backgroundColor = background; }
      doc.features.forEach(function (f) {
        var layer = f.properties.layer;
        if (layer === "land") { land.push(f); } else if (layer === "district") { districts.push(f); } else { places.push(f); }
      });
      L.geoJSON(land, { renderer: renderer, interactive: false, style: OFFLINE_STYLE.land }).addTo(group);
      L.geoJSON(districts, {
        renderer: renderer, interactive: false,
        style: function (f) {
          var i = districts.indexOf(f);
          return Object.assign({ fillColor: OFFLINE_STYLE.districtFills[i % 2] }, OFFLINE_STYLE.district);
        }
      }).addTo(group);
      places.forEach(function (f) {
        var c = f.geometry.coordinates, kind = f.properties.layer === "place" ? "place" : "district";
        var m = labelMarker(c[1], c[0], kind, labelPane);
        m.label.textContent = text(f.properties);
        labels.push({ marker: m, props: f.properties, kind: kind });
      });
      fixed.addTo(group);
      floating.addTo(group);
      facilityLabels.addTo(group);
      self.drawn = true;
      relabel();
      document.body.dataset.offlineBasemap = "drawn";
    }

    /** Whether the map's container point ``pt`` is on screen and not under the page's own bars or panels. */
    function uncovered(pt) {
      var box = map.getContainer().getBoundingClientRect();
      var hit = document.elementFromPoint(box.left + pt.x, box.top + pt.y);
      return !!hit && map.getContainer().contains(hit);
    }

    /** Labels for this zoom and view, in the page's language. */
    function relabel() {
      if (!self.drawn || !map.hasLayer(group)) { return; }
      var z = map.getZoom(), bounds = map.getBounds(), size = map.getSize();
      // The part of the map a page is unlikely to cover with its own panels (a phone's bottom sheet).
      var seen = L.latLngBounds(map.containerPointToLatLng([0, size.y * 0.6]),
        map.containerPointToLatLng([size.x, size.y * 0.05]));
      var named = {};
      labels.forEach(function (l) {
        l.marker.label.textContent = text(l.props);
        var show = z >= (l.props.min_zoom != null ? l.props.min_zoom : LABEL_ZOOM[l.kind]);
        if (show !== fixed.hasLayer(l.marker)) { if (show) { fixed.addLayer(l.marker); } else { fixed.removeLayer(l.marker); } }
        if (show && l.kind === "district" && seen.contains(l.marker.getLatLng()) &&
            uncovered(map.latLngToContainerPoint(l.marker.getLatLng()))) { named[l.props.adcode] = true; }
      });
      // A district whose label point is out of that part, or under the page's own bars, is named where it
      // is seen (the upper middle first), so the district around the user is always named.
      floating.clearLayers();
      if (z >= LABEL_ZOOM.district) {
        [[0.5, 0.3], [0.5, 0.5], [0.2, 0.2], [0.8, 0.2], [0.2, 0.5], [0.8, 0.5], [0.5, 0.6]].forEach(function (f) {
          var pt = L.point(size.x * f[0], size.y * f[1]);
          if (!uncovered(pt)) { return; }
          var ll = map.containerPointToLatLng(pt);
          districts.forEach(function (d) {
            var p = d.properties;
            if (named[p.adcode] || !insidePolygon(d.geometry, ll.lng, ll.lat)) { return; }
            named[p.adcode] = true;
            var m = labelMarker(ll.lat, ll.lng, "district", labelPane);
            m.label.textContent = text(p);
            floating.addLayer(m);
          });
        });
      }
      facilityLabels.clearLayers();
      if (z >= LABEL_ZOOM.facility) {
        if (!facilities) { loadFacilities(); return; }
        var n = 0;
        facilities.some(function (f) {
          var c = f.geometry.coordinates;
          if (!bounds.contains([c[1], c[0]])) { return false; }
          var m = labelMarker(c[1], c[0], "facility", labelPane);
          m.label.textContent = i18n.lang === "en" ? (f.properties.name_en || f.properties.name) : f.properties.name;
          facilityLabels.addLayer(m);
          n += 1;
          return n >= MAX_FACILITY_LABELS;
        });
      }
    }

    function loadFacilities() {
      var furl = WM.cfg.urls && WM.cfg.urls.facilities, vp = WM.cfg.viewport;
      if (vp) {  // a large registry: label the view's point tiles (viewport.js caches them), never the whole layer
        if (!WM.ViewportTiles) { facilities = []; return; }  // a page without viewport loading: no facility labels
        viewTiles = viewTiles || new WM.ViewportTiles(map, { url: vp.tiles, pointZoom: vp.point_zoom });
        viewTiles.load().then(function (got) {
          if (got) { facilities = got.points.features; relabel(); facilities = null; }
        }, function () { /* labels are decoration */ });
        return;
      }
      if (facilitiesLoading || !furl) { return; }
      facilitiesLoading = WM.getJSON(furl).then(function (fc) { facilities = fc.features; relabel(); },
        function () { facilities = []; });
    }

    var ownZoomLimit = false;
    var background = OFFLINE_STYLE.sea;  // until the basemap says otherwise (a region's: OFFLINE_STYLE.beyond)
    function activate() {
      map.getContainer().style.backgroundColor = background;
      if (map.options.maxZoom === undefined) {  // tile layers set the map's zoom range; marker clusters need one
        map.options.maxZoom = MAX_ZOOM;
        ownZoomLimit = true;
        map.fire("zoomlevelschange");
      }
      if (!loading) {
        loading = WM.getJSON(url).then(draw, function (err) {
          loading = null;
          document.body.dataset.offlineBasemap = "failed";
          throw err;
        });
      } else { relabel(); }
      drawStreets();
    }
    group.on("add", activate);
    group.on("remove", function () {
      map.getContainer().style.backgroundColor = "";
      if (ownZoomLimit) {
        map.options.maxZoom = undefined;
        ownZoomLimit = false;
        map.fire("zoomlevelschange");
      }
    });
    map.on("moveend", relabel);
    i18n.onChange(relabel);
    if (map.hasLayer(group)) { activate(); }
  }

  /**
   * The basemaps the map skeleton (web/maps.py) put in the layer switcher, the one shown and its
   * datum, and conversions. ``toMap(lon, lat)`` gives the L.LatLng where a WGS84 point must be
   * drawn on the current basemap (shifted to GCJ-02 on AMap); ``fromMap(latlng)`` gives back WGS84
   * [lon, lat]. ``onDatum(datum)`` is called when the datum changes after the start.
   *
   * Which basemap: the one the person last chose in the switcher (localStorage), else TianDiTu (if
   * the deployment has a key) or AMap in mainland China (``WM.inChina``), else OpenStreetMap. When
   * the shown tiles fail (no tile loaded yet, or most of them failing) the offline basemap takes
   * over; that switch is not remembered, so the next visit tries the tiles again. With tiles off
   * the offline basemap is the only one.
   */
  WM.Basemaps = function (map, basemaps, onDatum) {
    var self = this;
    var byId = {};
    basemaps.forEach(function (b) { b.layer = root[b.var]; b.loads = 0; b.errors = 0; byId[b.id] = b; });
    self.datum = "wgs84";
    self.id = null;
    if (WM.cfg.osm && map.attributionControl) {  // an imported OpenStreetMap extract is in use: its ODbL credit
      map.attributionControl.addAttribution(WM.cfg.osm.html);  // the streets layer's own: shown once with it
    }
    self.offline = byId.offline && byId.offline.layer ? new OfflineBasemap(map, byId.offline.layer, byId.offline.url,
      WM.cfg.streets || null) : null;
    var quiet = true;  // choosing the first basemap: the page draws in its datum from the start
    var automatic = false;  // this code, not the person, is changing the basemap: not remembered
    function current(layer) {
      for (var i = 0; i < basemaps.length; i++) { if (basemaps[i].layer === layer) { return basemaps[i]; } }
      return null;
    }
    function set(b) {
      var changed = b.datum !== self.datum && !quiet;
      self.datum = b.datum;
      self.id = b.id;
      document.body.dataset.basemap = b.id;
      document.body.dataset.datum = b.datum;
      if (!automatic) {
        WM.store.set("basemap", b.id);
        b.loads = 0;
        b.errors = 0;
      }
      if (changed && onDatum) { onDatum(b.datum); }
    }
    map.on("baselayerchange", function (e) { var b = current(e.layer); if (b) { set(b); } });
    function swap(b) {
      basemaps.forEach(function (o) { if (o !== b && o.layer && map.hasLayer(o.layer)) { map.removeLayer(o.layer); } });
      if (!map.hasLayer(b.layer)) { map.addLayer(b.layer); }
      set(b);
    }
    function pick(id) {
      automatic = true;
      try { swap(byId[id]); } finally { automatic = false; }
    }
    /** Show basemap ``id`` (as if chosen in the layer switcher: remembered). */
    self.show = function (id) {
      var b = byId[id];
      if (!b || b.id === self.id) { return; }
      swap(b);
    };
    self.toMap = function (lon, lat) {
      var p = root.WMDatum.fromWgs84(lon, lat, self.datum);
      return L.latLng(p[1], p[0]);
    };
    self.fromMap = function (latlng) { return root.WMDatum.toWgs84(latlng.lng, latlng.lat, self.datum); };

    var failed = false;
    var failListeners = [];
    /** Call ``fn`` once when a tile fails to load (tiles need the network; the page does not). */
    self.onTileError = function (fn) { if (failed) { fn(); } else { failListeners.push(fn); } };
    function tileLayers(b) {
      var out = [];
      if (b.layer && b.layer.eachLayer) { b.layer.eachLayer(function (l) { out.push(l); }); } else if (b.layer) { out.push(b.layer); }
      return out;
    }
    basemaps.forEach(function (b) {
      if (b.offline) { return; }
      tileLayers(b).forEach(function (l) {
        l.on("tileload", function () { b.loads += 1; });
        l.on("tileerror", function () {
          b.errors += 1;
          if (!failed) { failed = true; failListeners.splice(0).forEach(function (fn) { fn(); }); }
          var hopeless = b.loads === 0 || (b.errors >= 4 && b.errors > b.loads);
          if (self.id === b.id && byId.offline && hopeless) {
            setTimeout(function () {  // not inside the tile layer's own event
              if (self.id !== b.id) { return; }
              document.body.dataset.basemapFallback = b.id;
              pick("offline");
            }, 0);
          }
        });
      });
    });

    function defaultId() {
      var tiles = basemaps.filter(function (b) { return !b.offline; });
      if (!tiles.length) { return byId.offline ? "offline" : null; }
      if (WM.inChina()) { return byId.tianditu ? "tianditu" : byId.amap ? "amap" : tiles[0].id; }
      return byId.osm ? "osm" : tiles[0].id;
    }
    var saved = WM.store.get("basemap");
    var start = saved && byId[saved] ? saved : defaultId();
    if (start) { pick(start); }
    quiet = false;
  };

  /**
   * Opening hours for people: ``24/7`` -> "24小时营业", none -> "营业时间未知", else the OSM expression with
   * localised day names (strings ``open_24``, ``hours_unknown``, ``days``, ``ph``, ``off`` of the page).
   */
  WM.hoursText = function (expr, known) {
    if (known === false || !expr || !String(expr).trim()) { return i18n.t("hours_unknown"); }
    var e = String(expr).trim();
    if (e === "24/7") { return i18n.t("open_24"); }
    var names = i18n.t("days").split(",");
    var codes = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
    return e.replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su|PH|off)\b/g, function (w) {
      var i = codes.indexOf(w);
      return i >= 0 ? names[i] : i18n.t(w === "PH" ? "ph" : "off");
    }).replace(/;\s*/g, i18n.lang === "zh" ? "；" : "; ");
  };

  /** Distance text: "350 米" / "1.2 公里". */
  WM.distance = function (m) {
    if (m < 1000) { return i18n.t("m", { n: Math.round(m) }); }
    return i18n.t("km", { n: (m / 1000).toFixed(m < 10000 ? 1 : 0) });
  };
})(window);
