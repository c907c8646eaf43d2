// The overview map (/map): every facility, clustered, coloured by kind, over the district outlines.
// The map skeleton and basemaps come from web/maps.py (WM.Basemaps: tiles or the offline basemap);
// every string from the data is inserted as text (never as HTML).
(function () {
  "use strict";
  var WM = window.WM;
  var cfg = WM.cfg;
  var t = WM.i18n.t;
  var el = WM.el;
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  body.dataset.state = "loading";

  var map = window[cfg.map.map];
  map.attributionControl.setPrefix(false);
  var features = [];
  var districts = null;
  var districtLayer = null;
  var basemaps = new WM.Basemaps(map, cfg.map.basemaps, function () { draw(); });
  var app = WM.overview = { map: map, basemaps: basemaps, cluster: null, popup: null };

  /** A DivIcon whose element carries an accessible name (cluster markers are buttons without text of their own). */
  var LabelledIcon = L.DivIcon.extend({
    createIcon: function (old) {
      var div = L.DivIcon.prototype.createIcon.call(this, old);
      div.setAttribute("aria-label", this.options.label);
      return div;
    }
  });
  var kindIcons = {};
  Object.keys(cfg.vocab.kinds).forEach(function (k) {
    kindIcons[k] = L.divIcon({
      className: "wm-marker k-" + k, html: '<div class="wm-pin ov-pin">' + WM.kindSvg(k) + "</div>",
      iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12]
    });
  });
  var cluster = app.cluster = L.markerClusterGroup({
    chunkedLoading: false, showCoverageOnHover: false, maxClusterRadius: 60, disableClusteringAtZoom: 17,
    iconCreateFunction: function (c) {
      var n = c.getChildCount();
      var size = n < 10 ? 34 : n < 100 ? 40 : 48;
      return new LabelledIcon({
        html: '<div class="wm-cluster ov-cluster"><span>' + Number(n) + "</span></div>",
        className: "wm-cluster-icon", iconSize: L.point(size, size), label: t("cluster", { n: n })
      });
    }
  }).addTo(map);

  function label(key) { return t(key) + (WM.i18n.lang === "zh" ? "：" : ": "); }
  function popup(p) {
    var kind = cfg.vocab.kinds[p.kind] ? WM.i18n.vocab("kinds", p.kind) : "";
    var status = p.status && p.status !== "open" ? WM.i18n.vocab("status", p.status) : "";
    var name = WM.i18n.lang === "en" && p.name_en ? p.name_en : p.name;
    return el("div", { class: "ov-popup" }, [
      el("b", { text: name }),
      el("p", {}, [kind, status ? " · " + status : ""]),
      el("p", {}, [label("c_hours"), el("span", { class: "hours", text: WM.hoursText(p.opening_hours, p.hours_known) })]),
      p.address ? el("p", {}, [label("c_address"), p.address]) : null,
      el("p", { text: [p.district, p.township].filter(Boolean).join(" · ") }),
      cfg.sample ? el("p", {}, [el("span", { class: "badge sample", text: t("c_sample") })]) : null
    ]);
  }

  app.popup = popup;

  /** Markers and outlines where the current basemap draws them (GCJ-02 on AMap, WGS84 otherwise). */
  function draw() {
    if (districts) {
      if (districtLayer) { map.removeLayer(districtLayer); }
      districtLayer = L.geoJSON(districts, {
        coordsToLatLng: function (c) { return basemaps.toMap(c[0], c[1]); },
        interactive: false, style: { color: "#555", weight: 1, fill: false, opacity: 0.7 }
      }).addTo(map);
    }
    cluster.clearLayers();
    cluster.addLayers(features.map(function (f) {
      var c = f.geometry.coordinates, p = f.properties;
      var m = L.marker(basemaps.toMap(c[0], c[1]), { icon: kindIcons[p.kind] || kindIcons.station, title: p.name });
      m.feature = f;
      m.bindPopup(function () { return popup(p); });
      return m;
    }));
  }

  function counts() {
    var by = {};
    features.forEach(function (f) { by[f.properties.kind] = (by[f.properties.kind] || 0) + 1; });
    document.querySelectorAll("[data-count]").forEach(function (n) { n.textContent = "(" + (by[n.dataset.count] || 0) + ")"; });
    $("total").textContent = t("count", { n: features.length });
  }

  // On a phone the legend starts folded (one line over the map); it opens with a tap.
  if (window.matchMedia && window.matchMedia("(max-width: 599px)").matches) { $("legend").open = false; }
  $("lang").addEventListener("click", function () { WM.i18n.set(WM.i18n.lang === "zh" ? "en" : "zh"); });
  WM.i18n.onChange(function () {
    map.closePopup();
    cluster.refreshClusters();
    counts();
  });
  WM.i18n.apply();
  WM.fillKindIcons();

  // A large registry (cfg.viewport): the facilities of the view only, by map tile (web/static/js/viewport.js); the
  // legend counts the whole registry from /api/v1/meta.
  var viewport = cfg.viewport ? new WM.ViewportTiles(map, { url: cfg.viewport.tiles, pointZoom: cfg.viewport.point_zoom })
    : null;
  var serverClusters = viewport ? L.layerGroup().addTo(map) : null;
  var clusterList = [];
  function loadView() {
    return viewport.load().then(function (got) {
      if (!got) { return null; }
      features = got.points.features;
      clusterList = got.clusters;
      draw();
      return got;
    });
  }
  if (viewport) {
    counts = function () {
      WM.getJSON(cfg.urls.meta).then(function (m) {
        var by = m.counts.by_kind, total = 0;
        document.querySelectorAll("[data-count]").forEach(function (n) { n.textContent = "(" + (by[n.dataset.count] || 0) + ")"; });
        Object.keys(by).forEach(function (k) { total += by[k]; });
        $("total").textContent = t("count", { n: total });
      });
    };
    var drawPoints = draw;
    draw = function () {
      drawPoints();
      viewport.drawClusters(serverClusters, clusterList, function (lon, lat) { return basemaps.toMap(lon, lat); },
        function (n) { return t("cluster", { n: n }); });
    };
    map.on("moveend", function () { loadView(); });
  }
  Promise.all([viewport ? loadView().then(function () { return { features: features }; }) : WM.getJSON(cfg.urls.facilities),
    WM.getJSON(cfg.urls.districts)]).then(function (r) {
    features = r[0].features;
    districts = r[1];
    draw();
    counts();
    body.dataset.facilities = String(features.length);
    body.dataset.state = "ready";
  }).catch(function (err) {
    $("total").textContent = t("load_error") + err.message;
    body.dataset.state = "error";
  });
})();
