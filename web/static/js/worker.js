// The worker finder: every facility clustered by kind, the nearest list, filters shared by
// map and list, search, detail cards, navigation links, datum-correct basemaps.
//
// Why hand-written and not folium: folium renders the map skeleton (web/maps.py: the map,
// the three basemaps, the layer switcher); everything that reacts to the user — filters that
// must narrow the map and the /api/v1/nearest list together, shifting markers to GCJ-02 when
// the AMap basemap is chosen, geolocation, search, cards — is behaviour folium cannot express.
(function () {
  "use strict";
  var WM = window.WM;
  var cfg = WM.cfg;
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
    hits: [], lastQuery: null, evaluatedAt: null
  };

  // -- basemaps: markers, boundaries and the user's position follow the basemap's datum --------
  var basemaps = app.basemaps = new WM.Basemaps(map, cfg.map.basemaps, function () { redrawForDatum(); });
  basemaps.onTileError(function () { $("tiles-notice").hidden = false; });

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
  Object.keys(cfg.vocab.kinds).forEach(function (k) {
    app.groups[k] = L.markerClusterGroup({
      // Not chunked: all 1,700 markers go in at once (~100 ms), so "interactive" means every facility is there.
      chunkedLoading: false, showCoverageOnHover: false, maxClusterRadius: 80, disableClusteringAtZoom: 17,
      iconCreateFunction: clusterIcon(k)
    }).addTo(map);
  });
  WM.fillKindIcons();

  var districtLayer = null;
  var districtsFc = null;
  var youLayer = L.layerGroup().addTo(map);
  var hitLayer = L.layerGroup().addTo(map);

  // -- filters ------------------------------------------------------------------------------------
  function readFilters() {
    function checked(name) {
      return Array.prototype.map.call(document.querySelectorAll('input[name="' + name + '"]:checked'),
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
      var h = app.hours && app.hours.hours[p.opening_hours];
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
    var active = flt.kinds.length + flt.amenities.length + (flt.open ? 1 : 0) + (flt.h24 ? 1 : 0) + (flt.worker ? 1 : 0);
    $("filter-count").hidden = !active;
    $("filter-count").textContent = active ? String(active) : "";
  }

  function onFiltersChanged() {
    WM.store.set("filters", JSON.stringify(readFilters()));
    applyMapFilter();
    if (app.position) { queryNearest({ fit: true }); }
  }
  $("filters").addEventListener("change", onFiltersChanged);
  $("filters-reset").addEventListener("click", function () {
    writeFilters({ kinds: [], amenities: [], open: false, h24: false, worker: "" });
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
    app.markers = fc.features.map(function (f) {
      var c = f.geometry.coordinates;
      var m = L.marker(basemaps.toMap(c[0], c[1]), {
        icon: kindIcons[f.properties.kind] || kindIcons.station, title: f.properties.name,
        alt: f.properties.name, keyboard: true, riseOnHover: true
      });
      m.feature = f;
      m.on("click", function () { openCard(fromFeature(f), m.getElement && m.getElement()); });
      return m;
    });
    applyMapFilter();
  }

  function drawDistricts() {
    if (districtLayer) { map.removeLayer(districtLayer); }
    if (!districtsFc) { return; }
    districtLayer = L.geoJSON(districtsFc, {
      coordsToLatLng: function (c) { return basemaps.toMap(c[0], c[1]); },
      style: { color: "#3b5b7a", weight: 1.5, opacity: 0.8, fill: false, dashArray: "4 3" }, interactive: false
    }).addTo(map);
    districtLayer.bringToBack();
  }

  function redrawForDatum() {
    if (app.markers.length) {
      Object.keys(app.groups).forEach(function (k) { app.groups[k].clearLayers(); });
      app.markers.forEach(function (m) {
        var c = m.feature.geometry.coordinates;
        m.setLatLng(basemaps.toMap(c[0], c[1]));
      });
      applyMapFilter();
    }
    drawDistricts();
    drawPosition();
    drawHits();
  }

  // -- my position ------------------------------------------------------------------------------------
  function drawPosition() {
    youLayer.clearLayers();
    var p = app.position;
    if (!p) { return; }
    var ll = basemaps.toMap(p.lon, p.lat);
    if (p.accuracy && p.accuracy < 5000) {
      L.circle(ll, { radius: p.accuracy, color: "#1a73e8", weight: 1, fillOpacity: 0.1, interactive: false }).addTo(youLayer);
    }
    L.circleMarker(ll, { radius: 9, color: "#fff", weight: 3, fillColor: p.source === "gps" ? "#1a73e8" : "#6a1b9a",
      fillOpacity: 1, interactive: false, className: "wm-you" }).addTo(youLayer);
    app.youLatLng = ll;
  }

  function setPosition(pos) {
    app.position = pos;
    body.dataset.position = pos.lon.toFixed(6) + "," + pos.lat.toFixed(6);
    drawPosition();
    queryNearest({ fit: true });
  }
  app.setPosition = setPosition;

  function locate() {
    var status = $("list-status");
    if (!navigator.geolocation) { status.textContent = t("geo_unsupported"); return; }
    status.textContent = t("locating");
    navigator.geolocation.getCurrentPosition(function (r) {
      setPosition({ lon: r.coords.longitude, lat: r.coords.latitude, accuracy: r.coords.accuracy, source: "gps" });
    }, function () {
      status.textContent = t("geo_denied");
      body.dataset.geo = "denied";
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  $("locate").addEventListener("click", locate);
  map.on("click", function (e) {
    var p = basemaps.fromMap(e.latlng);
    setPosition({ lon: p[0], lat: p[1], source: "tap" });
  });

  // -- nearest list -----------------------------------------------------------------------------------
  var querySeq = 0;
  function nearestUrl(pos, flt) {
    var q = new URLSearchParams();
    q.set("lon", pos.lon.toFixed(7));
    q.set("lat", pos.lat.toFixed(7));
    q.set("k", String(cfg.list_k));
    if (flt.h24) { q.set("open_24h", "true"); }
    if (flt.kinds.length) { q.set("kind", flt.kinds.join(",")); }
    if (flt.amenities.length) { q.set("amenity", flt.amenities.join(",")); }
    if (flt.worker) { q.set("worker", flt.worker); }
    // The map filters "open now" with the minute the server evaluated (/worker/hours): ask for the same one.
    q.set("open_at", flt.open ? (app.hours ? app.hours.at : "now") : "any");
    q.set("include_closed", flt.open ? "false" : "true");
    return cfg.urls.nearest + "?" + q.toString();
  }

  function queryNearest(opts) {
    var pos = app.position;
    if (!pos) { return Promise.resolve(); }
    var flt = readFilters();
    var url = nearestUrl(pos, flt);
    var seq = ++querySeq;
    body.dataset.listState = "loading";
    $("list-status").textContent = t("list_loading");
    return WM.getJSON(url).then(function (res) {
      if (seq !== querySeq) { return; }
      var hits = res.hits;
      app.hits = hits;
      app.lastQuery = url;
      app.evaluatedAt = res.evaluated_at;
      app.eligible = res.eligible;
      renderList();
      drawHits();
      if (opts && opts.fit) { fitToHits(); }
      body.dataset.listState = "ready";
      body.dataset.listSeq = String(seq);
    }).catch(function (err) {
      if (seq !== querySeq) { return; }
      app.hits = [];
      renderList();
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
    var pts = [basemaps.toMap(app.position.lon, app.position.lat)];
    app.hits.slice(0, 3).forEach(function (h) { pts.push(basemaps.toMap(h.lon, h.lat)); });
    var panel = $("panel").getBoundingClientRect();
    var top = $("bar").getBoundingClientRect().height + 40;
    var tl = wide() ? [panel.right + 30, top] : [30, top];
    var br = wide() ? [40, 40] : [40, panel.height + 30];
    map.fitBounds(L.latLngBounds(pts), { paddingTopLeft: tl, paddingBottomRight: br, maxZoom: 16, animate: false });
  }
  // Leaflet's controls sit below the bar and notices, and above the list sheet on phones.
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(function () {
      var st = document.documentElement.style;
      st.setProperty("--panel-live", Math.round($("panel").getBoundingClientRect().height) + "px");
      st.setProperty("--top-live", Math.round(document.querySelector(".notices").getBoundingClientRect().bottom) + "px");
    });
    ro.observe($("panel"));
    ro.observe(document.querySelector(".notices"));
    ro.observe($("bar"));
  }

  function drawHits() {
    hitLayer.clearLayers();
    app.hits.forEach(function (h, i) {
      var m = L.marker(basemaps.toMap(h.lon, h.lat), {
        icon: L.divIcon({ className: "wm-hit-icon", html: '<div class="wm-hit k-' + String(h.kind).replace(/[^a-z_]/g, "") + '"><span>' + (i + 1) + "</span></div>",
          iconSize: [28, 28], iconAnchor: [14, 34] }),
        keyboard: false, zIndexOffset: 1000, title: h.name
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

  /** The open/closed badge: 营业至22:00 / 08:00开门 / 24小时营业 / 暂停开放. */
  function badge(fac) {
    if (fac.status && fac.status !== "open") {
      return el("span", { class: "badge closed", text: vocab("status", fac.status) });
    }
    if (fac.open_now) {
      if (!fac.closes_at) { return el("span", { class: "badge open", text: t("open_24") }); }
      return el("span", { class: "badge open", text: t("closes_at", { t: dayPrefix(fac.closes_at, fac.evaluated_at) + timeOf(fac.closes_at) }) });
    }
    if (fac.opens_at) {
      return el("span", { class: "badge closed", text: t("opens_at", { t: dayPrefix(fac.opens_at, fac.evaluated_at) + timeOf(fac.opens_at) }) });
    }
    return el("span", { class: "badge closed", text: t("closed") });
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

  // -- facility records from a hit (API) or a feature (GeoJSON) -----------------------------------------------
  function fromHit(h) { return Object.assign({ fromApi: true, evaluated_at: app.evaluatedAt }, h); }
  function fromFeature(f) {
    var p = f.properties;
    var fac = Object.assign({ id: f.id }, p, { lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] });
    var hit = app.hits.filter(function (h) { return h.id === f.id; })[0];
    if (hit) { return fromHit(hit); }
    var h = app.hours && app.hours.hours[p.opening_hours];
    if (h) {
      fac.open_now = h.open;
      fac.closes_at = h.open ? h.next_change : null;
      fac.opens_at = h.open ? null : h.next_change;
      fac.evaluated_at = app.hours.at;
    }
    return fac;
  }

  function renderList() {
    var list = $("list");
    list.textContent = "";
    var status = $("list-status");
    if (!app.position) { status.textContent = t("list_hint"); return; }
    var from = { gps: "list_from_gps", tap: "list_from_tap", search: "list_from_search" }[app.position.source];
    if (!app.hits.length) { status.textContent = t("list_empty"); return; }
    status.textContent = t(from);
    app.hits.forEach(function (h, i) {
      var fac = fromHit(h);
      var sub = [vocab("kinds", h.kind), WM.distance(h.distance_m), t("walk", { n: Math.max(1, Math.ceil(h.walk_min)) }),
        t("ebike", { n: Math.max(1, Math.ceil(h.ebike_min)) })].join(" · ");
      var badges = el("span", { class: "badges" }, [badge(fac),
        h.access !== "outdoor_workers" ? el("span", { class: "badge access", text: vocab("access", h.access) }) : null]);
      var main = el("button", { type: "button", class: "hit-main", "aria-haspopup": "dialog" }, [
        el("span", { class: "rank", "aria-hidden": "true", text: String(i + 1) }),
        kindIconEl(h.kind),
        el("span", { class: "hit-text" }, [
          el("span", { class: "name", text: h.name }),
          el("span", { class: "sub", text: sub }),
          badges,
          amenityIcons(h.amenities, false)
        ])
      ]);
      main.addEventListener("click", function () { openCard(fac, main); });
      list.appendChild(el("li", { class: "hit", "data-id": h.id }, [main, navRow(fac)]));
    });
  }

  // -- detail card -----------------------------------------------------------------------------------
  var cardOpener = null;
  var cardFac = null;
  function humanHours(expr) {
    if (!expr) { return ""; }
    if (expr.trim() === "24/7") { return t("h24"); }
    var names = t("days").split(",");
    var codes = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
    return expr.replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, function (d) { return names[codes.indexOf(d)]; })
      .replace(/;\s*/g, WM.i18n.lang === "zh" ? "；" : "; ");
  }
  function row(labelKey, value) {
    if (value === null || value === undefined || value === "" || (value.length === 0)) { return null; }
    return [el("dt", { text: t(labelKey) }), el("dd", {}, [value])];
  }
  function renderCard(fac) {
    var bodyEl = $("card-body");
    bodyEl.textContent = "";
    var rows = [
      row("c_status", badge(fac)),
      row("c_district", [fac.district, fac.township].filter(Boolean).join(" · ")),
      row("c_address", fac.address),
      row("c_hours", humanHours(fac.opening_hours)),
      row("c_access", vocab("access", fac.access)),
      row("c_entry", (fac.entry || []).map(function (e) { return vocab("entry", e); }).join("、")),
      row("c_capacity", fac.capacity ? t("c_capacity_n", { n: fac.capacity }) : null),
      row("c_phone", fac.phone ? el("a", { href: "tel:" + String(fac.phone).replace(/[^0-9+]/g, ""), text: fac.phone }) : null),
      row("c_verified", fac.verified_at),
      row("c_amenities", (fac.amenities || []).length ? amenityIcons(fac.amenities, true) : null)
    ];
    var dl = el("dl", { class: "facts" });
    rows.forEach(function (r) { if (r) { dl.appendChild(r[0]); dl.appendChild(r[1]); } });
    var distance = fac.distance_m !== undefined ? [WM.distance(fac.distance_m),
      t("walk", { n: Math.max(1, Math.ceil(fac.walk_min)) }), t("ebike", { n: Math.max(1, Math.ceil(fac.ebike_min)) })].join(" · ") : null;
    [
      el("p", { class: "card-kind" }, [kindIconEl(fac.kind), " " + vocab("kinds", fac.kind),
        fac.sample ? el("span", { class: "badge sample", text: t("c_sample") }) : null]),
      el("h2", { id: "card-title", text: fac.name, tabindex: "-1" }),
      distance ? el("p", { class: "sub", text: distance }) : null,
      navRow(fac),
      dl
    ].forEach(function (n) { if (n) { bodyEl.appendChild(n); } });
  }
  function openCard(fac, opener) {
    cardFac = fac;
    cardOpener = opener || document.activeElement;
    renderCard(fac);
    $("card").hidden = false;
    $("card").dataset.id = fac.id;
    $("card-title").focus();
  }
  app.openCard = openCard;
  function closeCard() {
    $("card").hidden = true;
    cardFac = null;
    if (cardOpener && document.body.contains(cardOpener) && cardOpener.focus) { cardOpener.focus(); }
  }
  $("card-close").addEventListener("click", closeCard);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    if (!$("card").hidden) { closeCard(); } else if (!$("filters").hidden) { toggleFilters(false); } else { hideResults(); }
  });

  // -- search over the loaded GeoJSON (district / township / facility name) ------------------------------
  var searchIndex = [];
  function buildSearchIndex() {
    var areas = {};
    function add(key, type, label, sub, c) {
      var a = areas[key] || (areas[key] = { type: type, label: label, sub: sub, sx: 0, sy: 0, n: 0,
        w: Infinity, s: Infinity, e: -Infinity, nn: -Infinity });
      a.sx += c[0]; a.sy += c[1]; a.n += 1;
      a.w = Math.min(a.w, c[0]); a.e = Math.max(a.e, c[0]); a.s = Math.min(a.s, c[1]); a.nn = Math.max(a.nn, c[1]);
    }
    app.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      if (p.district) { add("d|" + p.district, "district", p.district, "", c); }
      if (p.township) { add("t|" + p.district + "|" + p.township, "township", p.township, p.district || "", c); }
    });
    searchIndex = Object.keys(areas).map(function (k) {
      var a = areas[k];
      return { type: a.type, label: a.label, sub: a.sub, lon: a.sx / a.n, lat: a.sy / a.n, bounds: [[a.s, a.w], [a.nn, a.e]] };
    });
    app.features.forEach(function (f) {
      var p = f.properties;
      searchIndex.push({ type: "facility", label: p.name, sub: [p.district, p.township].filter(Boolean).join(" · "),
        lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1], feature: f, extra: (p.name_en || "") + " " + (p.address || "") });
    });
  }
  var results = [];
  function hideResults() {
    $("search-results").hidden = true;
    $("q").setAttribute("aria-expanded", "false");
  }
  function runSearch() {
    var q = $("q").value.trim().toLowerCase();
    var ul = $("search-results");
    ul.textContent = "";
    if (!q) { hideResults(); $("search-status").textContent = ""; return; }
    var limits = { district: 3, township: 6, facility: 8 };
    var counts = { district: 0, township: 0, facility: 0 };
    results = searchIndex.filter(function (r) {
      var hay = (r.label + " " + (r.type === "facility" ? r.extra : "")).toLowerCase();
      if (hay.indexOf(q) < 0 || counts[r.type] >= limits[r.type]) { return false; }
      counts[r.type] += 1;
      return true;
    });
    results.forEach(function (r, i) {
      var b = el("button", { type: "button", class: "result", "data-index": String(i) }, [
        el("span", { class: "rtype", text: t({ district: "r_district", township: "r_township", facility: "r_facility" }[r.type]) }),
        el("span", { class: "rlabel", text: r.label }),
        r.sub ? el("span", { class: "rsub", text: r.sub }) : null
      ]);
      b.addEventListener("click", function () { pick(r); });
      ul.appendChild(el("li", {}, [b]));
    });
    if (!results.length) { ul.appendChild(el("li", { class: "none", text: t("search_none") })); }
    ul.hidden = false;
    $("q").setAttribute("aria-expanded", "true");
    $("search-status").textContent = results.length ? String(results.length) : t("search_none");
  }
  function pick(r) {
    hideResults();
    $("q").value = r.label;
    if (r.type === "facility") {
      map.setView(basemaps.toMap(r.lon, r.lat), 16, { animate: false });
      setPosition({ lon: r.lon, lat: r.lat, source: "search" });
      openCard(fromFeature(r.feature), $("q"));
    } else {
      map.fitBounds(L.latLngBounds([basemaps.toMap(r.bounds[0][1], r.bounds[0][0]), basemaps.toMap(r.bounds[1][1], r.bounds[1][0])]),
        { padding: [30, 30], animate: false });
      setPosition({ lon: r.lon, lat: r.lat, source: "search" });
    }
  }
  var searchTimer = null;
  $("q").addEventListener("input", function () { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 120); });
  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(searchTimer);
    runSearch();
    if (results.length) { pick(results[0]); }
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
    if (!$("search-results").hidden) { runSearch(); }
  });
  WM.i18n.apply();

  // -- start -----------------------------------------------------------------------------------------
  var started = performance.now();
  var metaP = WM.getJSON(cfg.urls.meta).then(function (m) {
    app.meta = m;
    $("sample-notice").hidden = !m.sample;
    body.dataset.sample = String(!!m.sample);
  });
  var fcP = WM.getJSON(cfg.urls.facilities);
  var hoursP = loadHours();
  WM.getJSON(cfg.urls.districts).then(function (fc) { districtsFc = fc; drawDistricts(); })
    .catch(function () { /* outlines are decoration */ });
  Promise.all([fcP, hoursP]).then(function (r) {
    if (window.performance && performance.mark) { performance.mark("workermap-data"); }
    buildMarkers(r[0]);
    buildSearchIndex();
    body.dataset.facilities = String(app.features.length);
    body.dataset.state = "ready";
    body.dataset.readyMs = String(Math.round(performance.now() - started));
    if (window.performance && performance.mark) { performance.mark("workermap-interactive"); }
    // Locate at once only if the user already allowed it; otherwise wait for the button.
    if (navigator.permissions && navigator.permissions.query) {
      navigator.permissions.query({ name: "geolocation" }).then(function (s) { if (s.state === "granted") { locate(); } })
        .catch(function () { /* not supported */ });
    }
  }).catch(function (err) {
    body.dataset.state = "error";
    $("list-status").textContent = t("load_error") + err.message;
  });
  metaP.catch(function () { /* the notice stays hidden; data still loads */ });
  // Opening hours change with the clock: refresh every minute and re-filter if "open now" is on.
  setInterval(function () {
    loadHours().then(function () {
      if (readFilters().open) { applyMapFilter(); if (app.position) { queryNearest(); } }
    }).catch(function () { /* keep the last state */ });
  }, 60000);
})();
