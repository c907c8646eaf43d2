// The worker finder: every facility clustered by kind, the nearest list (open now and enterable
// first), filters shared by map and list, place search, detail cards with problem reports,
// navigation links, datum-correct basemaps.
//
// Start order (fast on a weak phone): worker-boot.js, before the map scripts, locates the phone and asks
// for the nearest list; this script shows that list as soon as it runs, then draws the hits and fits the
// map after the list is painted, and only then builds the ~1,700 markers from the light map layer
// (/worker/facilities.geojson: marker and filter fields only; a card asks for the full record).
//
// Why hand-written and not folium: folium renders the map skeleton (web/maps.py: the map,
// the three basemaps, the layer switcher); everything that reacts to the user — filters that
// must narrow the map and the /api/v1/nearest list together, shifting markers to GCJ-02 when
// the AMap basemap is chosen, geolocation, search, cards, reports — is behaviour folium cannot express.
(function () {
  "use strict";
  var WM = window.WM;
  var boot = window.WMBoot;  // worker-boot.js: the early position and nearest answers, the nearest URLs
  var cfg = WM.cfg;
  var urls = cfg.worker_urls;
  var t = WM.i18n.t;
  var vocab = WM.i18n.vocab;
  var el = WM.el;
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  body.dataset.state = "loading";
  body.dataset.listState = "idle";

  var map = window[cfg.map.map];
  map.attributionControl.setPrefix(false);
  var app = WM.worker = {
    map: map, features: [], markers: [], groups: {}, hours: null, meta: null, position: null,
    hits: [], sections: { now: [], later: [] }, lastQuery: null, evaluatedAt: null, travel: null
  };
  /** The least-privileged worker type (open to all outdoor workers): who "may enter" means when none is chosen. */
  var GUEST = boot.guest(cfg.worker_access);

  // -- notices: dismissable, the dismissal remembered ---------------------------------------------
  function showNotice(id, key) {
    if (WM.store.get("dismissed." + key) !== "1") { $(id).hidden = false; }
  }
  document.querySelectorAll(".notice-close").forEach(function (b) {
    b.addEventListener("click", function () {
      b.closest(".notice").hidden = true;
      WM.store.set("dismissed." + b.dataset.dismiss, "1");
    });
  });

  // -- basemaps: markers, boundaries and the user's position follow the basemap's datum --------
  // Made once the first list is painted, or before by whatever draws on the map first (bm()): the tiles
  // would take the main thread and the bandwidth the list needs first. The marker groups come with them
  // (markercluster needs the zoom range a basemap gives the map).
  var basemaps = null;
  function bm() {
    if (!basemaps) {
      basemaps = app.basemaps = new WM.Basemaps(map, cfg.map.basemaps, function () { redrawForDatum(); });
      basemaps.onTileError(function () { showNotice("tiles-notice", "tiles_failed"); });
      makeGroups();
    }
    return basemaps;
  }

  // -- icons ------------------------------------------------------------------------------------
  var kindIcons = {};
  Object.keys(cfg.vocab.kinds).forEach(function (k) {
    kindIcons[k] = L.divIcon({
      className: "wm-marker k-" + k, html: '<div class="wm-pin">' + WM.kindSvg(k) + "</div>",
      iconSize: [32, 32], iconAnchor: [16, 16]
    });
  });
  function clusterIcon(kind) {
    return function (cluster) {
      var n = cluster.getChildCount();
      var size = n < 10 ? 36 : n < 100 ? 42 : 50;
      return L.divIcon({
        html: '<div class="wm-cluster k-' + kind + '"><span>' + Number(n) + "</span></div>",
        className: "wm-cluster-icon", iconSize: L.point(size, size)
      });
    };
  }
  function makeGroups() {
    Object.keys(cfg.vocab.kinds).forEach(function (k) {
      app.groups[k] = L.markerClusterGroup({
        // Not chunked: all 1,700 markers go in at once (~100 ms), so "interactive" means every facility is there.
        chunkedLoading: false, showCoverageOnHover: false, maxClusterRadius: 80, disableClusteringAtZoom: 17,
        iconCreateFunction: clusterIcon(k)
      }).addTo(map);
    });
  }
  WM.fillKindIcons();

  var districtLayer = null;
  var districtsFc = null;
  var youLayer = L.layerGroup().addTo(map);
  var hitLayer = L.layerGroup().addTo(map);
  var pointLayer = L.layerGroup().addTo(map);  // the point a site is being suggested at

  // -- filters ------------------------------------------------------------------------------------
  function readFilters() {
    function checked(name) {
      return Array.prototype.map.call(document.querySelectorAll('#filters input[name="' + name + '"]:checked'),
        function (n) { return n.value; });
    }
    return { kinds: checked("kind"), amenities: checked("amenity"), open: $("f-open").checked,
      h24: $("f-24h").checked, worker: $("f-worker").value };
  }
  function writeFilters(f) {
    document.querySelectorAll('input[name="kind"]').forEach(function (n) { n.checked = f.kinds.indexOf(n.value) >= 0; });
    document.querySelectorAll('input[name="amenity"]').forEach(function (n) { n.checked = f.amenities.indexOf(n.value) >= 0; });
    $("f-open").checked = !!f.open;
    $("f-24h").checked = !!f.h24;
    $("f-worker").value = cfg.worker_access[f.worker] ? f.worker : "";
  }
  app.filters = readFilters;
  (function restoreFilters() {
    try {
      var saved = JSON.parse(WM.store.get("filters") || "null");
      if (saved && Array.isArray(saved.kinds) && Array.isArray(saved.amenities)) { writeFilters(saved); }
    } catch (e) { /* ignore a corrupt entry */ }
  })();

  /** The server-evaluated state of ``p``'s hours now, or null when its hours are unknown. */
  function hoursKnown(p) { return p.hours_known !== false && p.opening_hours !== null && p.opening_hours !== undefined; }
  function hoursNow(p) {
    if (!hoursKnown(p) || !app.hours) { return null; }
    // a facility that follows China's working calendar (调休 days) has its own evaluation
    var table = p.workday_calendar ? app.hours.workday_calendar : app.hours.hours;
    return (table || {})[p.opening_hours] || null;
  }

  /** Whether feature ``f`` passes filter ``flt`` — the same rules as /api/v1/nearest. */
  function matches(f, flt) {
    var p = f.properties;
    if (flt.kinds.length && flt.kinds.indexOf(p.kind) < 0) { return false; }
    var am = p.amenities || [];
    for (var i = 0; i < flt.amenities.length; i++) { if (am.indexOf(flt.amenities[i]) < 0) { return false; } }
    if (flt.worker && cfg.worker_access[flt.worker].indexOf(p.access) < 0) { return false; }
    if (flt.h24 && p.opening_hours !== "24/7") { return false; }
    if (flt.open) {
      if (p.status !== "open") { return false; }
      var h = hoursNow(p);  // unknown hours never count as open
      if (!h || !h.open) { return false; }
    }
    return true;
  }
  app.matches = matches;

  function applyMapFilter() {
    var flt = readFilters();
    var byKind = {};
    var n = 0;
    Object.keys(app.groups).forEach(function (k) { byKind[k] = []; });
    app.markers.forEach(function (m) {
      if (matches(m.feature, flt)) { (byKind[m.feature.properties.kind] || (byKind[m.feature.properties.kind] = [])).push(m); n++; }
    });
    Object.keys(app.groups).forEach(function (k) {
      app.groups[k].clearLayers();
      if (byKind[k].length) { app.groups[k].addLayers(byKind[k]); }
    });
    app.visible = n;
    body.dataset.visible = String(n);
    $("match-count").textContent = t("shown", { n: n, total: app.features.length });
    // the count on the sheet's button: what is set inside the sheet ("open now" sits on the page)
    var active = flt.kinds.length + flt.amenities.length + (flt.h24 ? 1 : 0) + (flt.worker ? 1 : 0);
    $("filter-count").hidden = !active;
    $("filter-count").textContent = active ? String(active) : "";
  }

  function onFiltersChanged() {
    WM.store.set("filters", JSON.stringify(readFilters()));
    applyMapFilter();
    if (viewport && map.getZoom() < cfg.viewport.point_zoom) { loadView(); }  // the server's clusters count the filter
    if (app.position) { queryNearest({ fit: true }); }
  }
  $("filters").addEventListener("change", onFiltersChanged);
  $("f-open").addEventListener("change", onFiltersChanged);
  $("filters-reset").addEventListener("click", function () {
    writeFilters({ kinds: [], amenities: [], open: $("f-open").checked, h24: false, worker: "" });
    onFiltersChanged();
  });
  function toggleFilters(open) {
    var panel = $("filters");
    var show = open === undefined ? panel.hidden : open;
    panel.hidden = !show;
    $("filters-toggle").setAttribute("aria-expanded", show ? "true" : "false");
    if (show) { panel.querySelector("input, select, button").focus(); } else { $("filters-toggle").focus(); }
  }
  $("filters-toggle").addEventListener("click", function () { toggleFilters(); });
  $("filters-done").addEventListener("click", function () { toggleFilters(false); });

  // -- opening-hours state (server-evaluated, one entry per expression) -----------------------------
  function loadHours() {
    return WM.getJSON(cfg.urls.hours + "?at=now").then(function (h) { app.hours = h; return h; });
  }

  // -- markers ----------------------------------------------------------------------------------------
  function buildMarkers(fc) {
    app.features = fc.features;
    app.byId = {};
    app.markers = fc.features.map(function (f) {
      var c = f.geometry.coordinates;
      var m = L.marker(bm().toMap(c[0], c[1]), {
        icon: kindIcons[f.properties.kind] || kindIcons.station, title: f.properties.name,
        alt: f.properties.name, keyboard: true, riseOnHover: true
      });
      m.feature = f;
      app.byId[f.id] = f;
      m.on("click", function () { openCard(fromFeature(f), m.getElement && m.getElement()); });
      return m;
    });
    applyMapFilter();
  }

  function drawDistricts() {
    if (districtLayer) { map.removeLayer(districtLayer); }
    if (!districtsFc) { return; }
    districtLayer = L.geoJSON(districtsFc, {
      coordsToLatLng: function (c) { return bm().toMap(c[0], c[1]); },
      style: { color: "#3b5b7a", weight: 1.5, opacity: 0.8, fill: false, dashArray: "4 3" }, interactive: false
    }).addTo(map);
    districtLayer.bringToBack();
  }

  function redrawForDatum() {
    if (app.markers.length) {
      Object.keys(app.groups).forEach(function (k) { app.groups[k].clearLayers(); });
      app.markers.forEach(function (m) {
        var c = m.feature.geometry.coordinates;
        m.setLatLng(bm().toMap(c[0], c[1]));
      });
      applyMapFilter();
    }
    map.closePopup();
    if (viewport && clusterLayer) { loadView(); }  // the clusters follow the datum too (the tiles are cached)
    drawDistricts();
    drawPosition();
    drawHits();
    drawSuggestPoint();
    // the page's own view (not one the person chose) follows the features to the new datum
    if (fitted && $("card").hidden) { fitToHits(); }
  }

  // -- my position: GPS, a search, a long-press or "set my position here" (never a plain tap) ----------
  function drawPosition() {
    youLayer.clearLayers();
    var p = app.position;
    if (!p) { return; }
    var ll = bm().toMap(p.lon, p.lat);
    if (p.accuracy && p.accuracy < 5000) {
      L.circle(ll, { radius: p.accuracy, color: "#1a73e8", weight: 1, fillOpacity: 0.1, interactive: false }).addTo(youLayer);
    }
    L.circleMarker(ll, { radius: 9, color: "#fff", weight: 3, fillColor: p.source === "gps" ? "#1a73e8" : "#6a1b9a",
      fillOpacity: 1, interactive: false, className: "wm-you" }).addTo(youLayer);
    app.youLatLng = ll;
  }

  /** Move "my position" and ask for its list; ``listFirst``: draw it on the map with the hits, once the list is
   * painted (the page's first list), not at once. */
  function setPosition(pos, listFirst) {
    app.position = pos;
    body.dataset.position = pos ? pos.lon.toFixed(6) + "," + pos.lat.toFixed(6) : "";
    if (!listFirst) { drawPosition(); }
    if (!pos) {
      querySeq++;
      app.hits = []; app.sections = { now: [], later: [] };
      renderList(); drawHits();
      return Promise.resolve();
    }
    return queryNearest({ fit: true });
  }
  app.setPosition = setPosition;

  /** A position the user chose (long-press, "set my position here", a search result): undoable. */
  function moveTo(pos) {
    var before = app.position;
    setPosition(pos);
    toast(t("pos_changed"), function () { setPosition(before); });
  }
  app.moveTo = moveTo;

  function geoFailed() {
    $("list-status").textContent = t("geo_denied");
    body.dataset.geo = "denied";
  }
  function locate() {
    var status = $("list-status");
    if (!navigator.geolocation) { status.textContent = t("geo_unsupported"); return; }
    status.textContent = t("locating");
    navigator.geolocation.getCurrentPosition(function (r) {
      var pos = { lon: r.coords.longitude, lat: r.coords.latitude, accuracy: r.coords.accuracy, source: "gps" };
      boot.remember(pos);
      setPosition(pos);
    }, geoFailed, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  $("locate").addEventListener("click", locate);

  // A long-press (~600 ms; contextmenu on desktop and Android) moves the position. Leaflet's own
  // hold detector only runs on iOS Safari by default: switch it on for every touch screen.
  if (map.tapHold && !map.tapHold.enabled() && L.Browser.touch) { map.tapHold.enable(); }
  var lastHold = 0;
  map.on("contextmenu", function (e) {
    var now = Date.now();
    if (now - lastHold < 500) { return; }  // the browser's and Leaflet's hold events for one press
    lastHold = now;
    map.closePopup();
    var p = bm().fromMap(e.latlng);
    moveTo({ lon: p[0], lat: p[1], source: "tap" });
  });
  // A plain tap only offers: set my position here, or suggest a new site here.
  map.on("click", function (e) {
    if (Date.now() - lastHold < 1000) { return; }
    var p = bm().fromMap(e.latlng);
    var setBtn = el("button", { type: "button", class: "btn primary set-here", text: t("set_here") });
    var suggestBtn = el("button", { type: "button", class: "btn suggest-here", text: t("suggest_here") });
    var popup = L.popup({ className: "wm-point-menu", autoPanPaddingTopLeft: [10, 130], minWidth: 180 })
      .setLatLng(e.latlng).setContent(el("div", { class: "point-menu", role: "group", "aria-label": t("point_menu") },
        [setBtn, suggestBtn]));
    setBtn.addEventListener("click", function () { map.closePopup(popup); moveTo({ lon: p[0], lat: p[1], source: "tap" }); });
    suggestBtn.addEventListener("click", function () { map.closePopup(popup); openSuggest(p[0], p[1], suggestBtn); });
    popup.openOn(map);
  });

  // -- toast with undo ------------------------------------------------------------------------------------
  var toastTimer = null;
  var toastUndo = null;
  function toast(text, undo) {
    clearTimeout(toastTimer);
    toastUndo = undo || null;
    $("toast-text").textContent = text;
    $("toast-undo").hidden = !undo;
    $("toast").hidden = false;
    toastTimer = setTimeout(function () { $("toast").hidden = true; toastUndo = null; }, 10000);
  }
  $("toast-undo").addEventListener("click", function () {
    var fn = toastUndo;
    clearTimeout(toastTimer);
    $("toast").hidden = true;
    toastUndo = null;
    if (fn) { fn(); }
  });

  // -- nearest list: open now and enterable first, closed or restricted after -------------------------------
  var querySeq = 0;
  /** The nearest query: ``now`` = open at minute ``at`` and enterable; otherwise every place nearby. */
  function nearestUrl(pos, flt, now, at) {
    return boot.nearestUrl(cfg.urls.nearest, cfg.list_k, GUEST, pos, flt, now, at);
  }
  /** GET nearest ``url``, or take the answer worker-boot.js asked early as ``early`` if it is for minute ``at``. */
  function askNearest(url, early, at) {
    var asked = boot.take(early);
    if (!asked) { return WM.getJSON(url); }
    return asked.then(function (doc) { return doc && (!at || doc.evaluated_at === at) ? doc : WM.getJSON(url); });
  }
  /** Run ``fn`` once the browser has painted what is on screen now (a fallback timer for a hidden tab). */
  function afterPaint(fn) {
    var done = false;
    function run() { if (!done) { done = true; fn(); } }
    if (window.requestAnimationFrame) { requestAnimationFrame(function () { setTimeout(run, 0); }); }
    setTimeout(run, 250);
  }

  /** Ask for the list; it is shown as soon as it arrives, the map (hits, fit) follows once it is painted. */
  function queryNearest(opts) {
    var pos = app.position;
    if (!pos) { return Promise.resolve(); }
    var flt = readFilters();
    // The map filters "open now" with the minute the server evaluated (/worker/hours): ask for the same one.
    var at = app.hours ? app.hours.at : null;
    var nowUrl = nearestUrl(pos, flt, true, at || "now");
    var allUrl = flt.open ? null : nearestUrl(pos, flt, false);
    var seq = ++querySeq;
    body.dataset.listState = "loading";
    $("list-status").textContent = t("list_loading");
    return Promise.all([askNearest(nowUrl, nearestUrl(pos, flt, true, "now"), at),
      allUrl ? askNearest(allUrl, allUrl, null) : null]).then(function (r) {
      if (seq !== querySeq) { return; }
      // hours that arrived meanwhile were evaluated at another minute: ask again at theirs
      if (app.hours && r[0].evaluated_at !== app.hours.at) { return queryNearest(opts); }
      var now = r[0].hits;
      var seen = {};
      now.forEach(function (h) { seen[h.id] = true; });
      // Every place among the nearest k that is not open-and-enterable is nearer than the k-th open one.
      var later = r[1] ? r[1].hits.filter(function (h) { return !seen[h.id]; }) : [];
      app.sections = { now: now, later: later };
      app.hits = now.concat(later);
      app.lastQuery = nowUrl;
      app.evaluatedAt = r[0].evaluated_at;
      app.calendarUntil = r[0].calendar_until || null;
      app.eligible = r[0].eligible;
      app.travel = r[0].parameters;
      app.travelModel = (r[0].travel && r[0].travel.model) || "straight";
      renderList();
      return new Promise(function (done) {
        afterPaint(function () {
          if (seq === querySeq) {
            drawPosition();
            drawHits();
            if (opts && opts.fit && $("card").hidden) { fitToHits(); }
            body.dataset.listState = "ready";
            body.dataset.listSeq = String(seq);
          }
          done();
        });
      });
    }).catch(function (err) {
      if (seq !== querySeq) { return; }
      app.hits = [];
      app.sections = { now: [], later: [] };
      renderList();
      drawPosition();
      drawHits();
      $("list-status").textContent = t("list_error") + err.message;
      body.dataset.listState = "error";
      body.dataset.listSeq = String(seq);
    });
  }
  app.queryNearest = queryNearest;

  function wide() { return window.matchMedia("(min-width: 800px)").matches; }
  function fitToHits() {
    if (!app.position) { return; }
    var pts = [bm().toMap(app.position.lon, app.position.lat)];
    app.hits.slice(0, 3).forEach(function (h) { pts.push(bm().toMap(h.lon, h.lat)); });
    var panel = $("panel").getBoundingClientRect();
    var top = $("notices").getBoundingClientRect().bottom + 30;
    var tl = wide() ? [panel.right + 30, top] : [30, top];
    var br = wide() ? [40, 40] : [40, panel.height + 30];
    fitting = true;
    try {
      map.fitBounds(L.latLngBounds(pts), { paddingTopLeft: tl, paddingBottomRight: br, maxZoom: 16, animate: false });
    } finally { fitting = false; }
    fitted = true;
  }
  // A notice can appear after the fit (the sample notice, the tile notice: the list does not wait for them):
  // the fit is made again for the new space, until the map is moved otherwise (the person, a card, a search).
  var fitting = false, fitted = false;
  map.on("movestart", function () { if (!fitting) { fitted = false; } });
  var noticesBottom = null;
  // The bar's height, the notices' bottom and the list sheet's height, for what is laid out around them.
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(function () {
      var st = document.documentElement.style;
      var bottom = Math.round($("notices").getBoundingClientRect().bottom);
      st.setProperty("--panel-live", Math.round($("panel").getBoundingClientRect().height) + "px");
      st.setProperty("--bar-live", Math.round($("bar").getBoundingClientRect().bottom) + "px");
      st.setProperty("--top-live", bottom + "px");
      if (noticesBottom !== null && bottom !== noticesBottom && fitted && $("card").hidden) { fitToHits(); }
      noticesBottom = bottom;
    });
    ro.observe($("panel"));
    ro.observe($("notices"));
    ro.observe($("bar"));
  }

  function drawHits() {
    hitLayer.clearLayers();
    var nNow = app.sections.now.length;
    app.hits.forEach(function (h, i) {
      var cls = "wm-hit k-" + String(h.kind).replace(/[^a-z_]/g, "") + (i >= nNow ? " later" : "");
      var m = L.marker(bm().toMap(h.lon, h.lat), {
        icon: L.divIcon({ className: "wm-hit-icon", html: '<div class="' + cls + '"><span>' + (i + 1) + "</span></div>",
          iconSize: [28, 28], iconAnchor: [14, 34] }),
        keyboard: false, zIndexOffset: i >= nNow ? 900 : 1000, title: h.name
      });
      m.on("click", function () { openCard(fromHit(h)); });
      m.addTo(hitLayer);
    });
  }

  function timeOf(iso) { return iso ? iso.slice(11, 16) : ""; }
  function dayPrefix(iso, ref) {
    // Qingdao local date of ``iso`` against the evaluation date ``ref``: "", "明天 " or the weekday.
    if (!iso || !ref) { return ""; }
    var d0 = new Date(ref.slice(0, 10) + "T00:00:00Z");
    var d1 = new Date(iso.slice(0, 10) + "T00:00:00Z");
    var days = Math.round((d1 - d0) / 86400000);
    if (days <= 0) { return ""; }
    if (days === 1) { return t("tomorrow") + " "; }
    return t("days").split(",")[(d1.getUTCDay() + 6) % 7] + " ";
  }

  /** The open/closed badge: 营业至22:00 / 08:00开门 / 24小时营业 / 营业时间未知 / 暂停开放. */
  function badge(fac) {
    if (fac.status && fac.status !== "open") {
      return el("span", { class: "badge closed", text: vocab("status", fac.status) });
    }
    if (!hoursKnown(fac) || fac.open_now === null) {
      return el("span", { class: "badge unknown", text: t("hours_unknown") });
    }
    if (fac.open_now === true) {
      if (!fac.closes_at) { return el("span", { class: "badge open", text: t("open_24") }); }
      return el("span", { class: "badge open", text: t("closes_at", { t: dayPrefix(fac.closes_at, fac.evaluated_at) + timeOf(fac.closes_at) }) });
    }
    if (fac.opens_at) {
      return el("span", { class: "badge closed", text: t("opens_at", { t: dayPrefix(fac.opens_at, fac.evaluated_at) + timeOf(fac.opens_at) }) });
    }
    return el("span", { class: "badge closed", text: t("closed") });
  }
  function accessBadge(fac) {
    return cfg.worker_access[GUEST].indexOf(fac.access) < 0
      ? el("span", { class: "badge access", text: vocab("access", fac.access) }) : null;
  }

  function amenityIcons(list, withLabels) {
    return el("span", { class: withLabels ? "amen amen-full" : "amen" }, (list || []).map(function (a) {
      var label = vocab("amenities", a);
      var icon = cfg.amenity_icons[a] || "•";
      if (withLabels) {
        return el("span", { class: "amen-item" }, [el("span", { "aria-hidden": "true", text: icon }), " " + label]);
      }
      return el("span", { role: "img", "aria-label": label, title: label, text: icon });
    }));
  }

  function kindIconEl(kind) {
    var s = el("span", { class: "kind-icon k-" + String(kind).replace(/[^a-z_]/g, ""), "data-kind": kind, "aria-hidden": "true" });
    s.innerHTML = WM.kindSvg(kind);  // constant markup chosen by kind, not data
    return s;
  }

  // -- navigation links ----------------------------------------------------------------------------------
  function quoteAll(s) {  // Python's urllib.parse.quote(s, safe="")
    return encodeURIComponent(s).replace(/[!'()*]/g, function (c) { return "%" + c.charCodeAt(0).toString(16).toUpperCase(); });
  }
  function form(obj) {  // urllib.parse.urlencode
    return Object.keys(obj).map(function (k) { return quoteAll(k) + "=" + quoteAll(obj[k]).replace(/%20/g, "+"); }).join("&");
  }
  /** The links of geo/navigation.py, built here for a facility opened from the map (no API hit). */
  function buildLinks(lon, lat, name) {
    var g = window.WMDatum.wgs84ToGcj02(lon, lat);
    var b = window.WMDatum.wgs84ToBd09(lon, lat);
    var amap = form({ to: g[0].toFixed(6) + "," + g[1].toFixed(6) + "," + name, mode: "ride", coordinate: "gaode",
      callnative: "1", src: "qingdao-workermap" });
    var baidu = form({ destination: "latlng:" + b[1].toFixed(6) + "," + b[0].toFixed(6) + "|name:" + name, mode: "riding",
      region: "青岛", output: "html", coord_type: "bd09ll", src: "qingdao.workermap" });
    if (app.position) {
      var o = window.WMDatum.wgs84ToBd09(app.position.lon, app.position.lat);
      baidu = form({ origin: "latlng:" + o[1].toFixed(6) + "," + o[0].toFixed(6) + "|name:我的位置" }) + "&" + baidu;
    }
    var la = lat.toFixed(7), lo = lon.toFixed(7);
    return {
      amap: "https://uri.amap.com/navigation?" + amap,
      baidu: "https://api.map.baidu.com/direction?" + baidu,
      geo: "geo:" + la + "," + lo + "?q=" + la + "," + lo + "(" + quoteAll(name) + ")"
    };
  }
  app.buildLinks = buildLinks;
  /** Apple Maps: inside mainland China it draws AutoNavi (GCJ-02) data, so the destination is GCJ-02. */
  function appleLink(lon, lat, name) {
    var g = window.WMDatum.wgs84ToGcj02(lon, lat);
    return "https://maps.apple.com/?daddr=" + g[1].toFixed(6) + "," + g[0].toFixed(6) + "&q=" + quoteAll(name);
  }
  function navRow(fac) {
    var links = fac.navigation || buildLinks(fac.lon, fac.lat, fac.name);
    function a(cls, href, key, external) {
      return el("a", { class: "btn nav-btn " + cls, href: href, target: external ? "_blank" : null,
        rel: external ? "noopener noreferrer" : null, text: t(key) });
    }
    var row = el("div", { class: "nav", role: "group" }, [
      a("nav-amap primary", links.amap, "nav_amap", true),
      a("nav-baidu", links.baidu, "nav_baidu", true),
      a("nav-apple", appleLink(fac.lon, fac.lat, fac.name), "nav_apple", true),
      a("nav-geo", links.geo, "nav_geo", false)
    ]);
    row.setAttribute("aria-label", t("nav") + " · " + fac.name);
    return row;
  }

  // -- distance from my position to a facility that is not in the list -----------------------------------
  /** Geodesic distance in metres on the WGS84 ellipsoid (Vincenty's inverse formula, millimetre-accurate). */
  function geodesicM(lon1, lat1, lon2, lat2) {
    var a = 6378137, f = 1 / 298.257223563, b = a * (1 - f), rad = Math.PI / 180;
    var L0 = (lon2 - lon1) * rad;
    var U1 = Math.atan((1 - f) * Math.tan(lat1 * rad)), U2 = Math.atan((1 - f) * Math.tan(lat2 * rad));
    var sinU1 = Math.sin(U1), cosU1 = Math.cos(U1), sinU2 = Math.sin(U2), cosU2 = Math.cos(U2);
    var lambda = L0, prev, sinS, cosS, sigma, cos2A, cos2Sm, iter = 0;
    do {
      var sinL = Math.sin(lambda), cosL = Math.cos(lambda);
      sinS = Math.sqrt(Math.pow(cosU2 * sinL, 2) + Math.pow(cosU1 * sinU2 - sinU1 * cosU2 * cosL, 2));
      if (sinS === 0) { return 0; }
      cosS = sinU1 * sinU2 + cosU1 * cosU2 * cosL;
      sigma = Math.atan2(sinS, cosS);
      var sinA = cosU1 * cosU2 * sinL / sinS;
      cos2A = 1 - sinA * sinA;
      cos2Sm = cos2A ? cosS - 2 * sinU1 * sinU2 / cos2A : 0;
      var C = f / 16 * cos2A * (4 + f * (4 - 3 * cos2A));
      prev = lambda;
      lambda = L0 + (1 - C) * f * sinA * (sigma + C * sinS * (cos2Sm + C * cosS * (-1 + 2 * cos2Sm * cos2Sm)));
    } while (Math.abs(lambda - prev) > 1e-12 && ++iter < 200);
    var u2 = cos2A * (a * a - b * b) / (b * b);
    var A = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
    var B = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
    var dS = B * sinS * (cos2Sm + B / 4 * (cosS * (-1 + 2 * cos2Sm * cos2Sm)
      - B / 6 * cos2Sm * (-3 + 4 * sinS * sinS) * (-3 + 4 * cos2Sm * cos2Sm)));
    return b * A * (sigma - dS);
  }
  app.geodesicM = geodesicM;
  /** Distance and minutes from my position, with the API's travel assumptions (straight line × detour at a speed). */
  function withDistance(fac) {
    var tr = app.travel || (app.meta && app.meta.assumptions);
    if (!app.position || !tr || fac.distance_m !== undefined) { return fac; }
    var d = geodesicM(app.position.lon, app.position.lat, fac.lon, fac.lat);
    fac.distance_m = d;
    fac.walk_min = d * tr.detour_factor / (tr.walk_kmh * 1000 / 60);
    fac.ebike_min = d * tr.detour_factor / (tr.ebike_kmh * 1000 / 60);
    return fac;
  }

  // -- facility records from a hit (API) or a feature (GeoJSON) -----------------------------------------------
  function fromHit(h) { return Object.assign({ fromApi: true, evaluated_at: app.evaluatedAt }, h); }
  function fromFeature(f) {
    var hit = app.hits.filter(function (h) { return h.id === f.id; })[0];
    if (hit) { return fromHit(hit); }
    var p = f.properties;
    // the map layer has what markers and filters need: the card asks for the rest (enrich)
    var fac = Object.assign({ id: f.id, partial: true }, p, { lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] });
    var h = hoursNow(p);
    fac.open_now = h ? h.open : null;
    fac.closes_at = h && h.open ? h.next_change : null;
    fac.opens_at = h && !h.open ? h.next_change : null;
    fac.evaluated_at = app.hours ? app.hours.at : null;
    return withDistance(fac);
  }
  function minutes(n) { return Math.max(1, Math.ceil(n)); }
  function distanceText(fac) {
    // how it was measured: the answer's travel model, or (measured here) the straight line
    var model = fac.fromApi && app.travelModel ? app.travelModel : "straight";
    return [WM.distance(fac.distance_m), t("walk", { n: minutes(fac.walk_min) }), t("ebike", { n: minutes(fac.ebike_min) }),
      t("est_" + model)].join(" · ");
  }

  function hitItem(h, i) {
    var fac = fromHit(h);
    var sub = [vocab("kinds", h.kind), distanceText(fac)].join(" · ");
    var main = el("button", { type: "button", class: "hit-main", "aria-haspopup": "dialog" }, [
      el("span", { class: "rank", "aria-hidden": "true", text: String(i + 1) }),
      kindIconEl(h.kind),
      el("span", { class: "hit-text" }, [
        el("span", { class: "name", text: h.name }),
        el("span", { class: "sub", text: sub }),
        el("span", { class: "badges" }, [badge(fac), accessBadge(h)]),
        amenityIcons(h.amenities, false)
      ])
    ]);
    main.addEventListener("click", function () { openCard(fac, main); });
    return el("li", { class: "hit", "data-id": h.id }, [main, navRow(fac)]);
  }

  function renderList() {
    var nowList = $("list-now"), laterList = $("list-later");
    nowList.textContent = "";
    laterList.textContent = "";
    var status = $("list-status");
    var now = app.sections.now, later = app.sections.later;
    $("now-title").hidden = true;
    $("later-title").hidden = true;
    if (!app.position) { status.textContent = t("list_hint"); return; }
    if (!now.length && !later.length) { status.textContent = t("list_empty"); return; }
    var from = { gps: "list_from_gps", tap: "list_from_tap", search: "list_from_search" }[app.position.source];
    var note = app.calendarUntil && app.evaluatedAt && app.evaluatedAt.slice(0, 10) > app.calendarUntil
      ? " " + t("cal_beyond", { d: app.calendarUntil }) : "";
    status.textContent = t(from) + note;
    $("now-title").textContent = t("sec_now", { worker: vocab("worker_types", readFilters().worker || GUEST) });
    $("now-title").hidden = false;
    if (!now.length) { nowList.appendChild(el("li", { class: "none", text: t("sec_now_empty") })); }
    now.forEach(function (h, i) { nowList.appendChild(hitItem(h, i)); });
    $("later-title").hidden = !later.length;
    later.forEach(function (h, i) { laterList.appendChild(hitItem(h, now.length + i)); });
  }

  // -- detail card -----------------------------------------------------------------------------------
  var cardOpener = null;
  var cardFac = null;
  function row(labelKey, value, id) {
    if (value === null || value === undefined || value === "" || (value.length === 0)) { return null; }
    return [el("dt", { text: t(labelKey) }), el("dd", { id: id || null }, [value])];
  }
  function verifiedText(fac) {
    var s = fac.summary;
    return (s && s.verified_at) || fac.verified_at || (fac.partial ? "…" : t("c_never"));
  }
  /** The card's list of facts (what the record says; "…" where the full record is still on its way). */
  function facts(fac) {
    var s = fac.summary;
    var rows = [
      row("c_status", el("span", { class: "badges" }, [badge(fac), accessBadge(fac)])),
      row("c_district", [fac.district, fac.township].filter(Boolean).join(" · ")),
      row("c_address", fac.address),
      row("c_hours", WM.hoursText(fac.opening_hours, hoursKnown(fac))),
      row("c_access", vocab("access", fac.access)),
      row("c_entry", (fac.entry || []).map(function (e) { return vocab("entry", e); }).join("、")),
      row("c_capacity", fac.capacity ? t("c_capacity_n", { n: fac.capacity }) : null),
      row("c_phone", fac.phone ? el("a", { href: "tel:" + String(fac.phone).replace(/[^0-9+]/g, ""), text: fac.phone }) : null),
      row("c_verified", verifiedText(fac), "card-verified"),
      s ? row("c_reports", t("c_reports_n", { n: s.open_reports }), "card-reports") : null,
      row("c_amenities", (fac.amenities || []).length ? amenityIcons(fac.amenities, true) : null)
    ];
    var dl = el("dl", { class: "facts" });
    rows.forEach(function (r) { if (r) { dl.appendChild(r[0]); dl.appendChild(r[1]); } });
    return dl;
  }
  function renderCard(fac) {
    var bodyEl = $("card-body");
    bodyEl.textContent = "";
    if (fac.suggest) { renderSuggest(fac); return; }
    [
      el("p", { class: "card-kind" }, [kindIconEl(fac.kind), " " + vocab("kinds", fac.kind),
        fac.sample ? el("span", { class: "badge sample", text: t("c_sample") }) : null]),
      el("h2", { id: "card-title", text: fac.name, tabindex: "-1" }),
      fac.distance_m !== undefined ? el("p", { class: "sub card-distance", text: distanceText(fac) }) : null,
      navRow(fac),
      facts(fac),
      reportSection(fac)
    ].forEach(function (n) { if (n) { bodyEl.appendChild(n); } });
  }
  /** Put the facility in the middle of the map that the card leaves visible. */
  function centreOn(lon, lat) {
    var card = $("card").getBoundingClientRect();
    var box = map.getContainer().getBoundingClientRect();
    var top = $("notices").getBoundingClientRect().bottom;
    var vis = wide() ? { l: card.right, r: box.right, t: top, b: box.bottom } : { l: box.left, r: box.right, t: top, b: card.top };
    var want = L.point((vis.l + vis.r) / 2 - box.left, (vis.t + vis.b) / 2 - box.top);
    // the zoom stays: the facility was drawn at it (a marker, a list hit or a search result), and markercluster
    // misses a long move made together with a zoom change
    var z = map.getZoom();
    var offset = want.subtract(map.getSize().divideBy(2));
    var centre = map.unproject(map.project(bm().toMap(lon, lat), z).subtract(offset), z);
    map.setView(centre, z, { animate: false });
  }
  app.centreOn = centreOn;
  function openCard(fac, opener) {
    cardFac = fac;
    cardOpener = opener || document.activeElement;
    pointLayer.clearLayers();
    renderCard(fac);
    $("card").hidden = false;
    $("card").dataset.id = fac.id;
    $("card-title").focus();
    centreOn(fac.lon, fac.lat);
    enrich(fac);
  }
  app.openCard = openCard;
  /** What the card adds from the API: the full record when opened from the map, and the reports summary. */
  function enrich(fac) {
    var jobs = [loadSummary(fac)];
    var partial = fac.partial;
    if (!fac.fromApi && fac.sample === undefined) {
      jobs.push(WM.getJSON(urls.item.replace("__ID__", encodeURIComponent(fac.id))).then(function (doc) {
        var p = doc.properties || {};
        Object.keys(p).forEach(function (k) { if (fac[k] === undefined) { fac[k] = p[k]; } });
        fac.sample = !!p.sample;
        if (p.hours_known !== undefined) { fac.hours_known = p.hours_known; }
      }).catch(function () { /* the card stays as drawn */ }).then(function () { fac.partial = false; }));
    }
    var top = $("card").getBoundingClientRect().top;
    return Promise.all(jobs).then(function () {
      if (cardFac !== fac || $("card").hidden) { return; }
      var kind = document.querySelector("#card .card-kind");
      if (fac.sample && kind && !kind.querySelector(".badge.sample")) {
        kind.appendChild(el("span", { class: "badge sample", text: t("c_sample") }));
      }
      var dl = document.querySelector("#card .facts");
      if (partial && dl) { dl.parentNode.replaceChild(facts(fac), dl); }  // address, phone … from the full record
      updateSummary(fac);
      if (Math.abs($("card").getBoundingClientRect().top - top) > 1) { centreOn(fac.lon, fac.lat); }  // it grew
      $("card").dataset.enriched = "true";
    });
  }
  function loadSummary(fac) {
    return WM.getJSON(urls.reports_summary + "?" + new URLSearchParams({ facility_id: fac.id }).toString())
      .then(function (s) { fac.summary = s; }).catch(function () { /* the card keeps the record's date */ });
  }
  /** Refresh the "last verified" and "reports" rows in place (a report form being filled stays as it is). */
  function updateSummary(fac) {
    var v = $("card-verified");
    if (v) { v.textContent = verifiedText(fac); }
    if (!fac.summary) { return; }
    var text = t("c_reports_n", { n: fac.summary.open_reports });
    if ($("card-reports")) { $("card-reports").textContent = text; return; }
    var dl = document.querySelector("#card .facts");
    if (dl && v) {
      var dt = el("dt", { text: t("c_reports") }), dd = el("dd", { id: "card-reports", text: text });
      dl.insertBefore(dd, v.nextSibling);
      dl.insertBefore(dt, dd);
    }
  }
  function closeCard() {
    $("card").hidden = true;
    delete $("card").dataset.enriched;
    cardFac = null;
    pointLayer.clearLayers();
    if (cardOpener && document.body.contains(cardOpener) && cardOpener.focus) { cardOpener.focus(); }
  }
  $("card-close").addEventListener("click", closeCard);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    if (!$("card").hidden) { closeCard(); } else if (!$("filters").hidden) { toggleFilters(false); } else { hideResults(); }
  });

  // -- reports: a problem at a facility, or a new site at a map position (POST /api/v1/reports) ------------
  function waitText(seconds) {
    var s = Math.max(1, Math.ceil(Number(seconds) || 60));
    return s < 120 ? t("r_seconds", { n: s }) : t("r_minutes", { n: Math.ceil(s / 60) });
  }
  /** POST a report; resolves with {ok, status, body, retryAfter}. */
  function postReport(payload) {
    return fetch(urls.reports, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (b) {
        return { ok: r.ok, status: r.status, body: b, retryAfter: r.headers.get("Retry-After") };
      });
    });
  }
  /** The text box, the send button and the status line shared by both report forms. */
  function reportFields(formEl, build, done) {
    var max = cfg.report_text_max;
    var text = el("textarea", { name: "text", rows: "3", maxlength: String(max), class: "report-text" });
    var count = el("span", { class: "report-count", "aria-hidden": "true", text: "0/" + max });
    text.addEventListener("input", function () { count.textContent = text.value.length + "/" + max; });
    var status = el("p", { class: "report-status", role: "status", "aria-live": "polite" });
    var send = el("button", { type: "submit", class: "btn primary report-send", text: t("r_send") });
    formEl.appendChild(el("label", { class: "report-label" }, [t("r_text", { n: max }), text]));
    formEl.appendChild(count);
    formEl.appendChild(el("div", { class: "row" }, [send]));
    formEl.appendChild(status);
    formEl.addEventListener("submit", function (e) {
      e.preventDefault();
      var payload = build();
      if (!payload) { status.textContent = t("r_pick"); status.dataset.state = "invalid"; return; }
      if (text.value.trim()) { payload.text = text.value.trim(); }
      send.disabled = true;
      status.textContent = t("r_sending");
      status.dataset.state = "sending";
      postReport(payload).then(function (r) {
        if (r.ok) {
          status.textContent = t("r_thanks");
          status.dataset.state = "sent";
          text.value = "";
          count.textContent = "0/" + max;
          if (done) { done(r.body); }
        } else if (r.status === 429) {
          status.textContent = t("r_rate", { wait: waitText(r.retryAfter) });
          status.dataset.state = "rate";
        } else {
          status.textContent = t("r_error") + (r.body && r.body.error ? r.body.error.message : "HTTP " + r.status);
          status.dataset.state = "error";
        }
      }).catch(function (err) {
        status.textContent = t("r_error") + err.message;
        status.dataset.state = "error";
      }).then(function () {
        send.disabled = false;
        if (status.scrollIntoView) { status.scrollIntoView({ block: "nearest" }); }
      });
    });
  }
  function reportSection(fac) {
    var toggle = el("button", { type: "button", class: "btn report-toggle", "aria-expanded": "false", text: t("report") });
    var formEl = el("form", { class: "report-form", hidden: true });
    var kinds = el("fieldset", { class: "chips report-kinds" }, [el("legend", { text: t("r_kind") })].concat(
      cfg.report_kinds.map(function (k) {
        return el("label", { class: "chip" }, [el("input", { type: "radio", name: "report-kind", value: k.kind }),
          k[WM.i18n.lang]]);
      })));
    formEl.appendChild(kinds);
    reportFields(formEl, function () {
      var k = formEl.querySelector('input[name="report-kind"]:checked');
      return k ? { kind: k.value, facility_id: fac.id } : null;
    }, function () {
      loadSummary(fac).then(function () { if (cardFac === fac) { updateSummary(fac); } });
    });
    toggle.addEventListener("click", function () {
      formEl.hidden = !formEl.hidden;
      toggle.setAttribute("aria-expanded", formEl.hidden ? "false" : "true");
      if (!formEl.hidden) { formEl.querySelector("input").focus(); }
    });
    return el("section", { class: "report" }, [toggle, formEl]);
  }
  function drawSuggestPoint() {
    pointLayer.clearLayers();
    if (!cardFac || !cardFac.suggest) { return; }
    L.circleMarker(bm().toMap(cardFac.lon, cardFac.lat), { radius: 10, color: "#fff", weight: 3, fillColor: "#b07800",
      fillOpacity: 1, interactive: false, className: "wm-suggest" }).addTo(pointLayer);
  }
  function renderSuggest(pt) {
    var formEl = el("form", { class: "report-form suggest-form" });
    reportFields(formEl, function () { return { kind: "new_site", lon: Number(pt.lon.toFixed(7)), lat: Number(pt.lat.toFixed(7)) }; });
    [
      el("h2", { id: "card-title", text: t("suggest_title"), tabindex: "-1" }),
      el("p", { class: "sub", text: t("suggest_where", { lon: pt.lon.toFixed(5), lat: pt.lat.toFixed(5) }) }),
      el("p", { text: t("suggest_hint") }),
      formEl
    ].forEach(function (n) { $("card-body").appendChild(n); });
  }
  /** The "suggest a site here" card for WGS84 ``lon``, ``lat``. */
  function openSuggest(lon, lat, opener) {
    cardFac = { suggest: true, lon: lon, lat: lat };
    cardOpener = opener || document.activeElement;
    renderCard(cardFac);
    $("card").hidden = false;
    $("card").dataset.id = "";
    $("card-title").focus();
    drawSuggestPoint();
    centreOn(lon, lat);
  }
  app.openSuggest = openSuggest;

  // -- search: GET /api/v1/search (districts, townships, places, facilities, landmarks) ------------------
  var results = [];
  var searchSeq = 0;
  var TYPE_KEYS = { district: "r_district", township: "r_township", place: "r_place", facility: "r_facility",
    landmark: "r_landmark" };
  var TYPE_ZOOM = { district: 12, township: 14, place: 15, facility: 16, landmark: 16 };
  function hideResults() {
    $("search-results").hidden = true;
    $("q").setAttribute("aria-expanded", "false");
  }
  function resultLabel(r) { return WM.i18n.lang === "en" && r.name_en ? r.name_en : r.name; }
  function renderResults(error) {
    var ul = $("search-results");
    ul.textContent = "";
    results.forEach(function (r, i) {
      var sub = WM.i18n.lang === "en" && r.name_en ? [r.name, r.district] : [r.district];
      var b = el("button", { type: "button", class: "result", "data-index": String(i), "data-type": r.type }, [
        el("span", { class: "rtype", text: t(TYPE_KEYS[r.type] || "r_place") }),
        el("span", { class: "rlabel", text: resultLabel(r) }),
        el("span", { class: "rsub", text: sub.filter(function (x) { return x && x !== r.name; }).join(" · ") })
      ]);
      b.addEventListener("click", function () { pick(r); });
      ul.appendChild(el("li", {}, [b]));
    });
    if (error) {
      ul.appendChild(el("li", { class: "none", text: t("search_error") + error }));
    } else if (!results.length) {
      ul.appendChild(el("li", { class: "none", text: t("search_none") }));
    }
    ul.hidden = false;
    $("q").setAttribute("aria-expanded", "true");
    $("search-status").textContent = error ? t("search_error") + error : results.length ? String(results.length) : t("search_none");
  }
  function runSearch() {
    var q = $("q").value.trim();
    var seq = ++searchSeq;
    if (!q) { results = []; hideResults(); $("search-status").textContent = ""; return Promise.resolve(); }
    body.dataset.searchState = "loading";
    var url = urls.search + "?" + new URLSearchParams({ q: q }).toString();  // the API's default limit
    return WM.getJSON(url).then(function (res) {
      if (seq !== searchSeq) { return; }
      results = res.results || [];
      renderResults();
      body.dataset.searchState = "ready";
    }).catch(function (err) {
      if (seq !== searchSeq) { return; }
      results = [];
      renderResults(err.message);
      body.dataset.searchState = "error";
    });
  }
  function pick(r) {
    hideResults();
    $("q").value = resultLabel(r);
    map.closePopup();
    map.setView(bm().toMap(r.lon, r.lat), TYPE_ZOOM[r.type] || 15, { animate: false });
    moveTo({ lon: r.lon, lat: r.lat, source: "search" });
    var f = r.id && app.byId && app.byId[r.id];
    if (f) { openCard(fromFeature(f), $("q")); }
  }
  var searchTimer = null;
  $("q").addEventListener("input", function () { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 250); });
  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(searchTimer);
    runSearch().then(function () { if (results.length) { pick(results[0]); } });
  });
  $("search-form").addEventListener("keydown", function (e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") { return; }
    var buttons = Array.prototype.slice.call($("search-results").querySelectorAll("button"));
    if (!buttons.length) { return; }
    e.preventDefault();
    var i = buttons.indexOf(document.activeElement);
    var next = e.key === "ArrowDown" ? Math.min(i + 1, buttons.length - 1) : i - 1;
    if (next < 0) { $("q").focus(); } else { buttons[next].focus(); }
  });

  // -- language ----------------------------------------------------------------------------------------
  $("lang").addEventListener("click", function () { WM.i18n.set(WM.i18n.lang === "zh" ? "en" : "zh"); });
  WM.i18n.onChange(function () {
    applyMapFilter();
    renderList();
    if (cardFac && !$("card").hidden) { renderCard(cardFac); }
    if (!$("search-results").hidden) { renderResults(); }
  });
  WM.i18n.apply();

  // -- start: the nearest list first, then the map layer -------------------------------------------------
  var started = performance.now();
  function mark(name) { if (window.performance && performance.mark) { performance.mark(name); } }
  var hoursP = loadHours();  // preloaded by the page
  // The map layer downloads alongside the list but is parsed (JSON.parse of ~700 KB holds a slow phone's main
  // thread for ~0.1 s) only once the list is shown.
  // A large registry (cfg.viewport): the facilities of the view only, by map tile (web/static/js/viewport.js).
  var viewport = cfg.viewport ? new WM.ViewportTiles(map, { url: cfg.viewport.tiles, pointZoom: cfg.viewport.point_zoom,
    query: clusterQuery }) : null;
  var clusterLayer = viewport ? L.layerGroup().addTo(map) : null;
  function clusterQuery() {
    var f = readFilters(), q = [];
    if (f.kinds.length) { q.push("kind=" + f.kinds.map(encodeURIComponent).join(",")); }
    if (f.amenities.length) { q.push("amenity=" + f.amenities.map(encodeURIComponent).join(",")); }
    if (f.worker) { q.push("worker=" + encodeURIComponent(f.worker)); }
    return q.join("&");
  }
  function loadView() {
    return viewport.load().then(function (got) {
      if (!got) { return null; }
      viewport.drawClusters(clusterLayer, got.clusters, function (lon, lat) { return bm().toMap(lon, lat); },
        function (n) { return String(n); });
      return got.points;
    });
  }
  var fcText = viewport ? null : fetch(cfg.urls.facilities, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (r) {
      if (r.ok) { return r.blob(); }
      return r.json().catch(function () { return null; }).then(function (b) {
        throw new Error(b && b.error ? b.error.message : "HTTP " + r.status);
      });
    });
  // The phone was located (only if the user already allowed it; otherwise the button does it) and the list
  // asked for by worker-boot.js while the scripts loaded: the list is shown as soon as this script has run.
  if (boot.locating) { $("list-status").textContent = t("locating"); }
  var listP = boot.position.then(function (pos) {
    if (pos && pos.denied) { geoFailed(); return null; }
    return pos && !app.position ? setPosition(pos, true) : null;
  });
  var metaP = WM.getJSON(cfg.urls.meta).then(function (m) {
    app.meta = m;
    if (m.sample) { showNotice("sample-notice", "sample"); }
    body.dataset.sample = String(!!m.sample);
  });
  hoursP.then(function (h) {
    // a list that came before the hours was evaluated at its own minute: ask again at the map's
    if (app.position && app.evaluatedAt && app.evaluatedAt !== h.at) { queryNearest(); }
  }).catch(function () { /* reported below */ });
  // The map layer (1,700 markers, the outlines) is built once the first list is painted (or after 1.5 s,
  // so a slow GPS fix does not keep the map empty): the list never waits for it.
  var listShown = Promise.race([listP.catch(function () { /* the list says what failed */ }),
    new Promise(function (done) { setTimeout(done, 1500); })]);
  listShown.then(function () {
    bm();
    return WM.getJSON(cfg.urls.districts);
  }).then(function (fc) {
    districtsFc = fc;
    drawDistricts();
  }).catch(function () { /* outlines are decoration */ });
  var dataP = viewport ? Promise.all([listShown, hoursP]).then(function () { bm(); return loadView(); }).then(function (fc) {
    mark("workermap-data");
    map.on("moveend", function () { loadView().then(function (next) { if (next) { buildMarkers(next); } }); });
    return fc || { features: [] };
  }) : Promise.all([listShown.then(function () { return fcText; }).then(function (b) { return b.text(); }),
    hoursP]).then(function (r) {
    mark("workermap-data");
    return JSON.parse(r[0]);
  });
  Promise.all([dataP, listShown]).then(function (r) {
    buildMarkers(r[0]);
    body.dataset.facilities = String(app.features.length);
    body.dataset.state = "ready";
    body.dataset.readyMs = String(Math.round(performance.now() - started));
    mark("workermap-interactive");
  }).catch(function (err) {
    body.dataset.state = "error";
    $("list-status").textContent = t("load_error") + err.message;
  });
  metaP.catch(function () { /* the notice stays hidden; data still loads */ });
  // Opening hours change with the clock: every minute, re-filter and re-ask when a place opened or closed.
  function openFlags(h) {
    if (!h) { return ""; }
    return [h.hours, h.workday_calendar || {}].map(function (table) {
      return Object.keys(table).map(function (k) { return table[k].open ? "1" : "0"; }).join("");
    }).join("|");
  }
  setInterval(function () {
    var before = openFlags(app.hours);
    loadHours().then(function (h) {
      if (openFlags(h) === before) { return; }
      applyMapFilter();
      if (app.position) { queryNearest(); }
    }).catch(function () { /* keep the last state */ });
  }, 60000);
})();
