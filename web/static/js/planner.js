// The planner: coverage grid and uncovered areas on the map, coverage by district, the
// 24-hour table, a siting plan with marginal gains, and downloads. Contract: web/coverage_api.py.
(function () {
  "use strict";
  var WM = window.WM;
  var cfg = WM.cfg;
  var urls = cfg.planner_urls;
  var t = WM.i18n.t;
  var el = WM.el;
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  body.dataset.state = "loading";

  var map = window[cfg.map.map];
  map.attributionControl.setPrefix(false);
  var app = WM.planner = { map: map, coverage: null, gaps: null, plan: null };
  var basemaps = app.basemaps = new WM.Basemaps(map, cfg.map.basemaps, function () { redraw(); });

  var layers = app.layers = { grid: null, gaps: null, boundaries: null, facilities: null, sites: L.layerGroup(),
    reports: null, suggestions: null, access: null, lost: null, whatif: null };
  var data = { districts: null, facilities: null, reports: null };

  function geo(fc, style, extra) {
    return L.geoJSON(fc, Object.assign({ coordsToLatLng: function (c) { return basemaps.toMap(c[0], c[1]); }, style: style }, extra || {}));
  }
  function toggle(name, layer) {
    var box = $("l-" + name);
    if (layer && box.checked) { layer.addTo(map); }
    box.addEventListener("change", function () {
      var l = layers[name];
      if (!l) { return; }
      if (box.checked) { l.addTo(map); } else { map.removeLayer(l); }
    });
  }
  function place(name, layer) {
    if (layers[name] && map.hasLayer(layers[name])) { map.removeLayer(layers[name]); }
    layers[name] = layer;
    if (layer && $("l-" + name).checked) { layer.addTo(map); }
  }
  ["grid", "gaps", "boundaries", "facilities", "sites", "reports", "suggestions", "access", "lost"].forEach(function (n) { toggle(n, null); });

  // -- progress (anything slower than a glance shows a spinner; the working part is aria-busy) and stale results --
  var busyCount = 0;
  function busy(target, on) {
    busyCount = Math.max(0, busyCount + (on ? 1 : -1));
    if (target) { target.setAttribute("aria-busy", on ? "true" : "false"); }
    $("busy").hidden = busyCount === 0;
    body.setAttribute("aria-busy", busyCount > 0 ? "true" : "false");
  }
  app.busy = busy;
  // Results on screen are stale when the parameters now in the form are not the ones they were computed with.
  function markStale() {
    var on = !!((app.plan && app.planKey !== planParams().toString()) || (app.whatif && app.whatifKey !== params().toString()));
    $("stale").hidden = !on;
    body.dataset.stale = on ? "true" : "false";
    ["sites-table", "plan-curve", "whatif-table", "w-lost"].forEach(function (id) { $(id).classList.toggle("stale", on); });
    layers.sites.eachLayer(function (m) { if (m.setOpacity) { m.setOpacity(on ? 0.4 : 1); } });
  }
  app.markStale = markStale;

  // -- parameters shared by coverage, grid.png, hours, gaps, the plan and the report ----------------
  function qingdaoDate() {
    try { return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date()); } catch (e) { return new Date().toISOString().slice(0, 10); }
  }
  function params() {
    var q = new URLSearchParams();
    if ($("c-city")) { q.set("city", $("c-city").value); }  // a province or the nation: the planner answers per city
    q.set("mode", $("c-mode").value);
    if ($("c-travel")) { q.set("travel", $("c-travel").value); }
    q.set("minutes", $("c-minutes").value || "15");
    q.set("kind", $("c-kind").value);
    if ($("c-amenity").value) { q.set("amenity", $("c-amenity").value); }
    if ($("c-worker").value) { q.set("worker", $("c-worker").value); }
    if ($("c-open-at").value) { q.set("open_at", qingdaoDate() + "T" + $("c-open-at").value); }
    if ($("c-district").value) { q.set("district", $("c-district").value); }
    return q;
  }
  app.params = params;
  // The siting options: POST /plan's body and the report's query carry the same ones (the report shows the plan
  // the page shows).
  function planParams() {
    var q = params();
    q.set("add", String(Number($("p-add").value || 10)));
    q.set("demand", $("p-demand").value);
    q.set("min_spacing_m", String(Number($("p-spacing").value || 0)));
    q.set("method", "greedy");
    return q;
  }
  app.planParams = planParams;

  function pct(v) { return v === null || v === undefined ? t("none") : Number(v).toFixed(1) + "%"; }
  function num(v) { return v === null || v === undefined ? t("none") : Math.round(v).toLocaleString(WM.i18n.lang === "en" ? "en" : "zh-CN"); }
  function meterCell(v) {
    var td = el("td");
    var w = Math.max(0, Math.min(100, Number(v) || 0));
    var bar = el("span", { class: "meter", "aria-hidden": "true" });
    bar.style.width = Math.round(w * 0.6) + "px";
    td.appendChild(bar);
    td.appendChild(document.createTextNode(pct(v)));
    return td;
  }
  // Uncovered workers too thinly spread to form a hot spot (GET /gaps below_floor), per district and summed.
  function belowFloor(d, isCity) {
    var rows = app.gaps && app.gaps.below_floor;
    if (!rows) { return t("none"); }
    var sel = rows.filter(function (r) { return isCity || r.adcode === d.adcode; });
    if (!sel.length) { return t("none"); }
    return num(sel.reduce(function (s, r) { return s + Number(r.uncovered_workers || 0); }, 0));
  }
  function districtRow(d, isCity) {
    var name = isCity ? t("city") : d.name;
    return el("tr", { "data-adcode": d.adcode }, [
      el("th", { scope: "row", text: name }), meterCell(d.area_covered_pct), meterCell(d.residents_covered_pct),
      meterCell(d.workers_covered_pct), el("td", { text: num(d.uncovered_workers) }), el("td", { text: belowFloor(d, isCity) })
    ]);
  }

  function renderCoverage() {
    var c = app.coverage;
    var tb = $("district-table").tBodies[0];
    tb.textContent = "";
    var tf = $("district-table").tFoot;
    tf.textContent = "";
    if (!c) { return; }
    (c.districts || []).forEach(function (d) { tb.appendChild(districtRow(d, false)); });
    if (c.city) { tf.appendChild(districtRow(c.city, true)); }
    $("assumptions").textContent = assumptionText(c.assumptions) + punct(".") + sourceText(c.demand_source) + punct(".");
  }
  // The assumptions as a sentence in the page's language (never a key=value dump).
  function assumptionText(a) {
    a = a || {};
    var dec = function (v) { return String(Math.round(Number(v) * 100) / 100); };
    var model = (a.travel && a.travel.model) || "straight";
    return t(model === "straight" ? "assume" : "assume_route", {
      mode: t("mode_" + (a.mode === "ebike" ? "ebike" : "walk")), min: dec(a.minutes),
      detour: dec(a.detour_factor), speed: dec(a.speed_kmh), m: num(a.threshold_m), cell: num(a.cell_m) })
      + punct(";") + t("travel_" + model);
  }
  function punct(c) {
    if (WM.i18n.lang === "en") { return c + " "; }
    return { ".": "。", ";": "；" }[c];
  }
  function sourceText(src) {
    if (!src) { return ""; }
    var key = "src_" + (typeof src === "string" ? src : src.kind || "");
    return WM.cfg.strings[WM.i18n.lang][key] ? t(key) : t("source") + ": " + String(src.label || src.kind || src);
  }
  app.assumptionText = assumptionText;

  function renderHours(rows) {
    var box = $("hours-table");
    box.textContent = "";
    if (!Array.isArray(rows)) { rows = rows && (rows.hours || rows.rows) || []; }
    if (!rows.length) { return; }
    var table = el("table", { class: "hours-table" }, [
      el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: t("hour") }), el("th", { scope: "col", text: t("facilities") }),
        el("th", { scope: "col", text: t("d_workers") }), el("th", { scope: "col", text: t("d_res") })])]),
      el("tbody", {}, rows.map(function (r) {
        return el("tr", {}, [el("th", { scope: "row", text: r.hour }), el("td", { text: num(r.open_facilities) }),
          meterCell(r.workers_covered_pct), meterCell(r.residents_covered_pct)]);
      }))
    ]);
    box.appendChild(table);
  }

  function gridOverlay(grid) {
    if (!grid || !grid.png || !grid.bounds) { return null; }
    // The PNG is in WGS84 bounds; on a GCJ-02 basemap its corners are shifted (the offset varies
    // by only a few metres across one city, far below a 250 m cell).
    var b = grid.bounds;
    var sw = basemaps.toMap(b[0][1], b[0][0]);
    var ne = basemaps.toMap(b[1][1], b[1][0]);
    var img = L.imageOverlay(grid.png, L.latLngBounds(sw, ne), { opacity: 0.85, interactive: false, className: "wm-grid" });
    return trackImage(img);
  }

  // An overlay image still loading shows the spinner (body[data-grid=loading]) until it has loaded or failed.
  function trackImage(img) {
    var done = false;
    var box = $("map-box");
    body.dataset.grid = "loading";
    busy(box, true);
    var end = function () { if (!done) { done = true; busy(box, false); body.dataset.grid = "ready"; } };
    img.on("load", end);
    img.on("error", end);
    img.on("remove", end);
    return img;
  }
  function renderLegend() {
    var ul = $("legend");
    ul.textContent = "";
    var legend = app.coverage && app.coverage.grid && app.coverage.grid.legend || [];
    legend.forEach(function (c) {
      var sw = el("span", { class: "sw", "aria-hidden": "true" });
      if (/^#[0-9a-fA-F]{3,8}$/.test(c.color)) { sw.style.background = c.color; }
      var key = "legend_" + c.key;
      var label = WM.cfg.strings[WM.i18n.lang][key] ? t(key) : c.label;
      ul.appendChild(el("li", {}, [sw, label]));
    });
  }

  function gapsLayer(fc) {
    return geo(fc, { color: "#7f0000", weight: 1.5, fillColor: "#7f0000", fillOpacity: 0.12, dashArray: "3 2" }, {
      className: "wm-area", onEachFeature: function (f, l) {
        var p = f.properties || {};
        var div = el("div", {}, [el("b", { text: "#" + (p.rank || "") + " " + (p.place ? p.place + " · " : "") + (p.district || "") }),
          el("br"), document.createTextNode((p.area_km2 !== undefined ? p.area_km2 + " km² · " : "") + t("d_uncov") + " " + num(p.uncovered_workers))]);
        l.bindPopup(div);
      }
    });
  }

  function sitesLayer(plan) {
    var g = L.layerGroup();
    (plan && plan.sites || []).forEach(function (s) {
      var m = L.marker(basemaps.toMap(s.lon, s.lat), {  // a square numbered pin: never mistaken for a cluster bubble
        icon: L.divIcon({ className: "wm-rank-pin", html: "<span>" + Number(s.rank) + "</span>", iconSize: [24, 30], iconAnchor: [12, 30],
          popupAnchor: [0, -28] }),
        title: "#" + s.rank + " " + (s.district || ""), zIndexOffset: 1000
      });
      m.siteRank = s.rank;
      m.bindPopup(el("div", {}, [el("b", { text: "#" + s.rank + " " + (s.district || "") }), el("br"),
        document.createTextNode(t("gain") + ": " + num(s.marginal_gain) + " · " + t("cum_pct") + ": " + pct(s.cumulative_pct))]));
      g.addLayer(m);
    });
    return g;
  }

  function facilitiesLayer(fc) {
    var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
    cluster.addLayers(fc.features.map(function (f) {
      var c = f.geometry.coordinates;
      return L.circleMarker(basemaps.toMap(c[0], c[1]), { radius: 5, weight: 1, color: "#fff", fillOpacity: 0.9,
        fillColor: cfg.kind_colours[f.properties.kind] || "#555" });
    }));
    return cluster;
  }

  // -- worker reports (GET /api/v1/reports/layer): open reports at their facilities, sites workers suggest --------
  // Names and labels go in as text (WM.el), never as HTML; the layer carries no report texts.
  function reportKind(k) {
    var label = (cfg.report_kinds || {})[k];
    return label ? label[WM.i18n.lang] : String(k);
  }
  function reportPopup(title, sub, lines) {
    return el("div", { class: "wm-report" }, [el("b", { text: title }), sub ? el("div", { text: sub }) : null,
      el("ul", {}, lines.map(function (line) { return el("li", { text: line }); }))]);
  }
  function reportLayers(fc) {
    var out = { reports: L.layerGroup(), suggestions: L.layerGroup(), n_reports: 0, n_suggestions: 0 };
    var byFacility = {}, order = [];
    (fc && fc.features || []).forEach(function (f) {
      var p = f.properties || {}, c = f.geometry.coordinates, n = Number(p.count) || 0;
      if (p.kind === "new_site") {
        out.n_suggestions += n;
        var m = L.circleMarker(basemaps.toMap(c[0], c[1]), { radius: 6 + Math.min(8, 2 * Math.sqrt(n)), weight: 2,
          color: "#0b3d5c", dashArray: "3 2", fillColor: "#56B4E9", fillOpacity: 0.85 });
        m.bindTooltip(el("span", { text: reportKind("new_site") + " · " + t("n_reports", { n: n }) }));
        m.bindPopup(reportPopup(reportKind("new_site"), null, [t("n_reports", { n: n }), t("latest", { d: String(p.created_at).slice(0, 10) })]));
        out.suggestions.addLayer(m);
        return;
      }
      out.n_reports += n;
      var b = byFacility[p.facility_id];
      if (!b) { b = byFacility[p.facility_id] = { c: c, name: p.name, id: p.facility_id, kinds: [], count: 0, latest: "" }; order.push(p.facility_id); }
      b.kinds.push(p);
      b.count += n;
      if (String(p.created_at) > b.latest) { b.latest = String(p.created_at); }
    });
    order.forEach(function (id) {
      var b = byFacility[id];
      var m = L.circleMarker(basemaps.toMap(b.c[0], b.c[1]), { radius: 6 + Math.min(8, 2 * Math.sqrt(b.count)), weight: 2,
        color: "#7a3b00", fillColor: "#E69F00", fillOpacity: 0.9 });
      m.bindTooltip(el("span", { text: String(b.name || b.id) + " · " + t("n_reports", { n: b.count }) }));  // a node: Leaflet reads a string as HTML
      m.bindPopup(reportPopup(String(b.name || b.id), String(b.id), b.kinds.map(function (p) {
        return reportKind(p.kind) + ": " + t("n_reports", { n: p.count });
      }).concat([t("latest", { d: b.latest.slice(0, 10) })])));
      out.reports.addLayer(m);
    });
    return out;
  }
  function loadReports() {
    body.dataset.reports = "loading";
    return WM.getJSON(urls.reports_layer).then(function (fc) {
      data.reports = fc;
      redraw();
      body.dataset.reports = "ready";
    }).catch(function () { body.dataset.reports = "error"; });
  }
  app.loadReports = loadReports;

  function redraw() {
    if (app.coverage) { place("grid", gridOverlay(app.coverage.grid)); }
    if (app.gaps) { place("gaps", gapsLayer(app.gaps)); }
    if (data.districts) {
      place("boundaries", geo(data.districts, { color: "#12263a", weight: 2, fill: false }, { interactive: false }));
    }
    if (data.facilities && $("l-facilities").checked) { place("facilities", facilitiesLayer(data.facilities)); }
    place("sites", sitesLayer(app.plan));
    markStale();
    if (app.access && $("l-access").checked) { drawAccess(); }
    if (app.whatif) { renderWhatif(); }
    if (layers.whatif) { drawScenario(); }
    if (data.reports) {
      var r = reportLayers(data.reports);
      place("reports", r.reports);
      place("suggestions", r.suggestions);
      $("n-reports").textContent = "(" + r.n_reports + ")";
      $("n-suggestions").textContent = "(" + r.n_suggestions + ")";
    }
  }

  function setDownloads() {
    var q = params();
    $("dl-fac-geojson").href = urls.export + "?format=geojson&layer=facilities";
    $("dl-fac-csv").href = urls.export + "?format=csv&layer=facilities";
    $("dl-dist-geojson").href = urls.export + "?format=geojson&layer=districts";
    var gq = new URLSearchParams(q);
    gq.set("limit", "200");
    $("dl-gaps").href = urls.gaps + "?" + gq.toString();
    $("dl-report").href = urls.report + "?" + planParams().toString();
  }

  // -- coverage ---------------------------------------------------------------------------------------
  var seq = 0;
  function runCoverage() {
    var q = params();
    var mine = ++seq;
    setDownloads();
    body.dataset.coverage = "loading";
    $("coverage-status").textContent = t("loading");
    $("coverage-status").className = "status";
    var box = $("controls-title").parentNode;
    busy(box, true);
    var gq = new URLSearchParams(q);
    gq.set("limit", "50");
    var cov = WM.getJSON(urls.coverage + "?" + q.toString());
    var gaps = WM.getJSON(urls.gaps + "?" + gq.toString()).catch(function () { return null; });
    var hours = WM.getJSON(urls.coverage_hours + "?" + q.toString()).catch(function () { return null; });
    return Promise.all([cov, gaps, hours]).then(function (r) {
      busy(box, false);
      if (mine !== seq) { return; }
      app.coverage = r[0];
      app.gaps = r[1];
      renderCoverage();
      renderLegend();
      app.hoursRows = r[2];
      renderHours(r[2]);
      renderHotspots();
      redraw();
      if ($("l-access").checked) { loadAccess(); }
      $("coverage-status").textContent = "";
      body.dataset.coverage = "ready";
    }).catch(function (err) {
      busy(box, false);
      if (mine !== seq) { return; }
      // a city without demand (409 no_demand): said in the page's language, then the API's message (the city, the fix)
      $("coverage-status").textContent = (err.status === 404 ? t("missing") + " " : err.status === 409 ? t("no_demand") + " " : t("error")) + err.message;
      $("coverage-status").className = "status error";
      body.dataset.coverage = err.status === 404 ? "missing" : "error";
    });
  }
  $("coverage-form").addEventListener("submit", function (e) { e.preventDefault(); runCoverage(); });
  // Any parameter changed: the plan and the what-if on screen no longer match it (greyed, with a note).
  ["coverage-form", "plan-form"].forEach(function (id) {
    $(id).addEventListener("change", function () { markStale(); setDownloads(); });
    $(id).addEventListener("input", function () { markStale(); });
  });

  // -- demand hot spots: a ranked list beside the map layer (GET /gaps) -------------------------------------
  function renderHotspots() {
    var ol = $("hotspots");
    ol.textContent = "";
    $("hotspots-summary").textContent = "";
    var g = app.gaps;
    if (!g || !g.features) { return; }
    g.features.slice(0, 20).forEach(function (f) {
      var p = f.properties || {};
      var li = el("li", { "data-rank": String(p.rank) }, [el("b", { text: (p.place || p.district || "") }),
        document.createTextNode(" · " + (p.district || "") + " · " + t("d_uncov") + " " + num(p.uncovered_workers) + " · " + p.area_km2 + " km²")]);
      clickable(li, function () {
        var hit = null;
        if (layers.gaps) { layers.gaps.eachLayer(function (l) { if (l.feature && l.feature.properties.rank === p.rank) { hit = l; } }); }
        zoomTo(p.centroid_lon, p.centroid_lat, hit);
      });
      ol.appendChild(li);
    });
    var sm = g.summary;
    if (sm && sm.listed) {
      $("hotspots-summary").textContent = t("hotspots_sum", { n: sm.listed, w: num(sm.in_listed), p: pct(sm.in_listed_pct) });
    }
  }

  // -- access (E2SFCA): the grid overlay and the shortage areas (GET /access) --------------------------------
  function loadAccess() {
    var q = params();
    q.set("limit", "50");
    var box = $("map-box");
    busy(box, true);
    body.dataset.access = "loading";
    return WM.getJSON(urls.access + "?" + q.toString()).then(function (a) {
      busy(box, false);
      app.access = a;
      drawAccess();
      body.dataset.access = "ready";
    }).catch(function (err) {
      busy(box, false);
      body.dataset.access = "error";
      $("coverage-status").textContent = t("error") + err.message;
    });
  }
  function drawAccess() {
    var a = app.access;
    if (!a) { return; }
    var g = L.layerGroup();
    var b = a.grid.bounds;
    g.addLayer(trackImage(L.imageOverlay(a.grid.png, L.latLngBounds(basemaps.toMap(b[0][1], b[0][0]), basemaps.toMap(b[1][1], b[1][0])),
      { opacity: 0.8, interactive: false, className: "wm-access" })));
    g.addLayer(geo(a.shortage, { color: "#a50026", weight: 2, fill: false }, { className: "wm-area", onEachFeature: function (f, l) {
      var p = f.properties || {};
      l.bindPopup(el("div", {}, [el("b", { text: "#" + p.rank + " " + (p.place || "") + " · " + (p.district || "") }), el("br"),
        document.createTextNode(p.area_km2 + " km² · " + num(p.demand) + " · " + p.demand_per_place + " / " + t("access"))]));
    } }));
    place("access", g);
    var ul = $("access-legend");
    ul.textContent = "";
    (a.grid.legend || []).forEach(function (c) {
      var sw = el("span", { class: "sw", "aria-hidden": "true" });
      if (/^#[0-9a-fA-F]{3,8}$/.test(c.color)) { sw.style.background = c.color; }
      ul.appendChild(el("li", {}, [sw, String(c.from_demand_per_place) + "–" + String(c.to_demand_per_place)]));
    });
    ul.hidden = false;
  }
  $("l-access").addEventListener("change", function () {
    if ($("l-access").checked) { loadAccess(); } else { $("access-legend").hidden = true; }
  });

  // -- siting plan ------------------------------------------------------------------------------------
  function renderPlan() {
    var p = app.plan;
    var table = $("sites-table");
    var tb = table.tBodies[0];
    tb.textContent = "";
    $("plan-curve").textContent = "";
    if (!p) { table.hidden = true; return; }
    (p.sites || []).forEach(function (s) {
      var tr = el("tr", { "data-rank": String(s.rank) }, [el("th", { scope: "row", text: String(s.rank) }),
        el("td", { text: s.district || "" }), el("td", { text: num(s.marginal_gain) }),
        el("td", { text: num(s.cumulative_covered) }), el("td", { text: pct(s.cumulative_pct) })]);
      clickable(tr, function () {
        var m = null;
        layers.sites.eachLayer(function (l) { if (l.siteRank === s.rank) { m = l; } });
        zoomTo(s.lon, s.lat, m);
      });
      tb.appendChild(tr);
    });
    table.hidden = false;
    var curve = (p.curve && p.curve.length ? p.curve : (p.sites || []).map(function (s) { return { sites: s.rank, pct: s.cumulative_pct }; }));
    if (curve.length > 1) { $("plan-curve").appendChild(curveSvg(curve)); }
    var fc = { type: "FeatureCollection", features: (p.sites || []).map(function (s) {
      return { type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] },
        properties: { rank: s.rank, district: s.district, marginal_gain: s.marginal_gain, cumulative_covered: s.cumulative_covered,
          cumulative_pct: s.cumulative_pct } };
    }) };
    var csv = ["rank,lon,lat,district,marginal_gain,cumulative_covered,cumulative_pct"].concat((p.sites || []).map(function (s) {
      var district = String(s.district || "").replace(/"/g, '""');
      if (/^[=+\-@]/.test(district)) { district = "'" + district; }
      return [s.rank, s.lon, s.lat, '"' + district + '"', s.marginal_gain, s.cumulative_covered, s.cumulative_pct].join(",");
    })).join("\r\n");
    ["dl-sites", "dl-sites-csv"].forEach(function (id, i) {
      var a = $(id);
      if (a.href && a.href.indexOf("blob:") === 0) { URL.revokeObjectURL(a.href); }
      a.href = URL.createObjectURL(new Blob([i ? "\ufeff" + csv : JSON.stringify(fc)],
        { type: i ? "text/csv;charset=utf-8" : "application/geo+json" }));
      a.hidden = false;
    });
  }
  // The gain curve: covered % after 0, 1, 2 … new sites, with both axes labelled (SVG built node by node).
  function svgEl(tag, attrs, text) {
    var n = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) { n.textContent = text; }
    return n;
  }
  function curveSvg(curve) {
    var W = 360, H = 200, L0 = 44, R = 10, T = 10, B = 40;
    var xs = curve.map(function (c) { return Number(c.sites); }), ys = curve.map(function (c) { return Number(c.pct) || 0; });
    var xmax = Math.max.apply(null, xs) || 1, ylo = Math.floor(Math.min.apply(null, ys)), yhi = Math.ceil(Math.max.apply(null, ys));
    if (yhi - ylo < 1) { yhi = ylo + 1; }
    var X = function (v) { return L0 + v / xmax * (W - L0 - R); }, Y = function (v) { return H - B - (v - ylo) / (yhi - ylo) * (H - T - B); };
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, class: "curve", role: "img", "aria-label": t("curve_y") + " / " + t("curve_x") });
    svg.appendChild(svgEl("line", { class: "axis", x1: L0, y1: H - B, x2: W - R, y2: H - B }));
    svg.appendChild(svgEl("line", { class: "axis", x1: L0, y1: T, x2: L0, y2: H - B }));
    for (var k = 0; k <= 4; k++) {
      var yv = ylo + (yhi - ylo) * k / 4;
      svg.appendChild(svgEl("line", { class: "grid", x1: L0, y1: Y(yv), x2: W - R, y2: Y(yv) }));
      svg.appendChild(svgEl("text", { x: L0 - 4, y: Y(yv) + 4, "text-anchor": "end", class: "tick-y" }, yv.toFixed(1)));
    }
    var step = Math.max(1, Math.ceil(xmax / 8));
    for (var x = 0; x <= xmax; x += step) {
      svg.appendChild(svgEl("text", { x: X(x), y: H - B + 14, "text-anchor": "middle", class: "tick-x" }, String(x)));
    }
    svg.appendChild(svgEl("text", { x: (L0 + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "axis-x" }, t("curve_x")));
    svg.appendChild(svgEl("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "axis-y",
      transform: "rotate(-90 12 " + (T + H - B) / 2 + ")" }, t("curve_y")));
    svg.appendChild(svgEl("polyline", { class: "line", points: curve.map(function (c) { return X(Number(c.sites)).toFixed(1) + "," + Y(Number(c.pct) || 0).toFixed(1); }).join(" ") }));
    curve.forEach(function (c) { svg.appendChild(svgEl("circle", { cx: X(Number(c.sites)), cy: Y(Number(c.pct) || 0), r: 2.5 })); });
    return svg;
  }
  app.curveSvg = curveSvg;
  // A click (or Enter) on a row moves the map to the place and opens its popup.
  function zoomTo(lon, lat, layer) {
    map.setView(basemaps.toMap(lon, lat), Math.max(map.getZoom(), 15));
    if (layer && layer.openPopup) { layer.openPopup(); }
    if (window.innerWidth < 1000) { $("map-box").scrollIntoView({ block: "start" }); }
  }
  function clickable(row, go) {
    row.setAttribute("tabindex", "0");
    row.addEventListener("click", go);
    row.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
  }
  app.zoomTo = zoomTo;
  function runPlan() {
    var body_ = {};
    var key = planParams().toString();
    planParams().forEach(function (v, k) { body_[k] = /^(add|minutes|min_spacing_m)$/.test(k) ? Number(v) : v; });
    body.dataset.plan = "loading";
    $("plan-status").textContent = t("loading");
    busy($("plan-title").parentNode, true);
    return WM.getJSON(urls.plan, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body_) }).then(function (p) {
      busy($("plan-title").parentNode, false);
      app.plan = p;
      app.planKey = key;
      renderPlan();
      redraw();
      markStale();
      renderPlanStatus();
      body.dataset.plan = "ready";
    }).catch(function (err) {
      busy($("plan-title").parentNode, false);
      $("plan-status").textContent = (err.status === 404 ? t("missing") + " " : t("error")) + err.message;
      body.dataset.plan = err.status === 404 ? "missing" : "error";
    });
  }
  function renderPlanStatus() {
    var p = app.plan;
    if (!p) { return; }
    var a = p.assumptions || {};
    var method = a.method || (p.exact ? "exact" : "greedy");
    $("plan-status").textContent = sourceText(p.demand_source) + punct(";") + t(method === "exact" ? "method_exact" : "method_greedy") + punct(".");
  }
  $("plan-form").addEventListener("submit", function (e) { e.preventDefault(); setDownloads(); runPlan(); });
  $("plan-form").addEventListener("change", setDownloads);

  // The facility layer: the region's (GET /worker/facilities.geojson); in a province or the nation only the chosen
  // city's (GET /planner/facilities.geojson?city=…: the facilities its answers count), reloaded when the city changes.
  function loadFacilities() {
    var city = $("c-city") ? $("c-city").value : null;
    var url = city ? urls.city_facilities + "?city=" + encodeURIComponent(city) : cfg.urls.facilities;
    body.dataset.facilities = "loading";
    return WM.getJSON(url).then(function (fc) {
      if (city && city !== $("c-city").value) { return; }  // another city was chosen meanwhile
      data.facilities = fc;
      place("facilities", facilitiesLayer(fc));
      body.dataset.facilities = "ready";
    }).catch(function () { body.dataset.facilities = "error"; /* decoration */ });
  }
  app.loadFacilities = loadFacilities;
  $("l-facilities").addEventListener("change", function () {
    if (!$("l-facilities").checked) { return; }
    if (data.facilities) { if (!layers.facilities) { place("facilities", facilitiesLayer(data.facilities)); } return; }
    loadFacilities();
  });

  // -- what-if on the map (POST /whatif): close a facility, make it 24-hour, add a site; before and after ------
  // Facilities counted ignoring the hour (GET /coverage/facilities without open_at) can be closed; those not
  // counted at the chosen hour can be made 24-hour, which the scenario models as a site at the same place.
  var scenario = app.scenario = { close: [], made24: [], add: [] };
  var counted = { any: null, now: null };
  function wParams() { return params(); }
  function loadCounted() {
    var q = wParams();
    var anyQ = new URLSearchParams(q);
    anyQ.delete("open_at");
    var box = $("whatif");
    busy(box, true);
    var a = WM.getJSON(urls.coverage_facilities + "?" + anyQ.toString());
    var n = q.has("open_at") ? WM.getJSON(urls.coverage_facilities + "?" + q.toString()) : a;
    return Promise.all([a, n]).then(function (r) {
      busy(box, false);
      counted.any = r[0].facilities;
      counted.now = {};
      r[1].facilities.forEach(function (f) { counted.now[f.id] = true; });
      drawScenario();
    }).catch(function (err) { busy(box, false); $("whatif-status").textContent = t("error") + err.message; });
  }
  function facilityPopup(f) {
    var isNow = !!counted.now[f.id];
    var hasHour = !!$("c-open-at").value;
    var closed = scenario.close.indexOf(f.id) >= 0, made = scenario.made24.some(function (m) { return m.id === f.id; });
    var close = el("button", { type: "button", class: "btn w-close", text: t("w_close"), disabled: closed || !isNow });
    var h24 = el("button", { type: "button", class: "btn w-24h", text: t("w_24h"), disabled: made || isNow || !hasHour });
    var why = isNow ? t("w_24h_na") : !hasHour ? t("w_24h_hint") : "";
    close.addEventListener("click", function () { scenario.close.push(f.id); map.closePopup(); changed(); });
    h24.addEventListener("click", function () { scenario.made24.push({ id: f.id, name: f.name, lon: f.lon, lat: f.lat }); map.closePopup(); changed(); });
    return el("div", { class: "w-popup" }, [el("b", { text: f.name }), el("div", { text: f.id + " · " + (f.district || "") }), close, h24,
      why ? el("small", { text: why }) : null]);
  }
  function drawScenario() {
    var g = L.layerGroup();
    if ($("w-edit").checked && counted.any) {
      counted.any.forEach(function (f) {
        var off = scenario.close.indexOf(f.id) >= 0;
        var made = scenario.made24.some(function (m) { return m.id === f.id; });
        var m = L.circleMarker(basemaps.toMap(f.lon, f.lat), { radius: 6, weight: 2, color: off ? "#d73027" : "#fff",
          fillColor: off ? "#999" : made ? "#CC79A7" : counted.now[f.id] ? "#D55E00" : "#aaa", fillOpacity: 0.95, bubblingMouseEvents: false });
        m.facilityId = f.id;
        m.bindPopup(function () { return facilityPopup(f); });
        g.addLayer(m);
      });
    }
    scenario.add.forEach(function (p, k) {
      g.addLayer(L.marker(basemaps.toMap(p[0], p[1]), { icon: L.divIcon({ className: "wm-rank-pin wm-new-site",
        html: "<span>+" + (k + 1) + "</span>", iconSize: [24, 30], iconAnchor: [12, 30] }), title: t("w_added", { n: k + 1 }) }));
    });
    if (layers.whatif) { map.removeLayer(layers.whatif); }
    layers.whatif = g.addTo(map);
    renderChanges();
  }
  function renderChanges() {
    var ul = $("w-changes");
    ul.textContent = "";
    var item = function (label, undo) {
      var b = el("button", { type: "button", class: "btn", text: t("w_undo") });
      b.addEventListener("click", function () { undo(); changed(); });
      ul.appendChild(el("li", {}, [el("span", { text: label }), b]));
    };
    var name = function (id) { var f = (counted.any || []).filter(function (x) { return x.id === id; })[0]; return f ? f.name : id; };
    scenario.close.forEach(function (id) { item(t("w_closed", { name: name(id) }), function () { scenario.close = scenario.close.filter(function (x) { return x !== id; }); }); });
    scenario.made24.forEach(function (m) { item(t("w_made24", { name: m.name }), function () { scenario.made24 = scenario.made24.filter(function (x) { return x !== m; }); }); });
    scenario.add.forEach(function (p, k) { item(t("w_added", { n: k + 1 }), function () { scenario.add.splice(k, 1); }); });
  }
  var wseq = 0;
  function changed() {
    drawScenario();
    if (!scenario.close.length && !scenario.add.length && !scenario.made24.length) {
      app.whatif = null;
      renderWhatif();
      return Promise.resolve();
    }
    return runWhatif();
  }
  function runWhatif() {
    var b = {};
    params().forEach(function (v, k) { b[k] = k === "minutes" ? Number(v) : v; });
    b.close = scenario.close.slice();
    b.add = scenario.add.concat(scenario.made24.map(function (m) { return [m.lon, m.lat]; }));
    var mine = ++wseq, key = params().toString();
    var box = $("whatif");
    busy(box, true);
    body.dataset.whatif = "loading";
    $("whatif-status").textContent = t("loading");
    return WM.getJSON(urls.whatif, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(b) }).then(function (w) {
      busy(box, false);
      if (mine !== wseq) { return; }
      app.whatif = w;
      app.whatifKey = key;
      renderWhatif();
      markStale();
      body.dataset.whatif = "ready";
    }).catch(function (err) {
      busy(box, false);
      if (mine !== wseq) { return; }
      $("whatif-status").textContent = t("error") + err.message;
      body.dataset.whatif = "error";
    });
  }
  app.runWhatif = runWhatif;
  function signed(v, f) { var n = Number(v) || 0; return (n > 0 ? "+" : n < 0 ? "−" : "±") + f(Math.abs(n)); }
  function deltaCell(before, after, delta, f) {
    var cls = delta < 0 ? "delta-neg" : delta > 0 ? "delta-pos" : "";
    return el("td", {}, [document.createTextNode(f(before) + " → " + f(after) + " "), el("b", { class: cls, text: "(" + signed(delta, f) + ")" })]);
  }
  function renderWhatif() {
    var w = app.whatif;
    var table = $("whatif-table");
    var tb = table.tBodies[0];
    tb.textContent = "";
    $("w-lost").textContent = "";
    $("whatif-status").textContent = "";
    place("lost", null);
    if (!w) { table.hidden = true; return; }
    w.rows.forEach(function (r, i) {
      var cw0 = r.workers - r.today_uncovered_workers, cw1 = r.workers - r.scenario_uncovered_workers;
      var cr0 = r.residents - r.today_uncovered_residents, cr1 = r.residents - r.scenario_uncovered_residents;
      tb.appendChild(el("tr", { "data-adcode": r.adcode, class: i === 0 ? "city" : null }, [el("th", { scope: "row", text: i === 0 ? t("city") : r.name }),
        deltaCell(cw0, cw1, cw1 - cw0, num), deltaCell(r.today_workers_covered_pct, r.scenario_workers_covered_pct, r.delta_workers_covered_pct, pct2),
        deltaCell(cr0, cr1, cr1 - cr0, num), deltaCell(r.today_residents_covered_pct, r.scenario_residents_covered_pct, r.delta_residents_covered_pct, pct2)]));
    });
    table.hidden = false;
    var lost = w.newly_uncovered || { type: "FeatureCollection", features: [] };
    var lay = geo(lost, { color: "#d73027", weight: 2, fillColor: "#d73027", fillOpacity: 0.35 }, { className: "wm-area", onEachFeature: function (f, l) {
      var p = f.properties || {};
      l.bindPopup(el("div", { text: t("w_lost", { place: p.place || "", district: p.district || "", w: num(p.uncovered_workers) }) }));
    } });
    place("lost", lay);
    if (!lost.features.length) { $("w-lost").appendChild(el("li", { text: t("w_none_lost") })); }
    lost.features.slice(0, 10).forEach(function (f) {
      var p = f.properties;
      var li = el("li", { text: t("w_lost", { place: p.place || "", district: p.district || "", w: num(p.uncovered_workers) }) });
      clickable(li, function () { zoomTo(p.centroid_lon, p.centroid_lat, null); });
      $("w-lost").appendChild(li);
    });
    (w.scenario.notes || []).forEach(function (n) { $("whatif-status").appendChild(el("div", { text: n })); });
  }
  function pct2(v) { return v === null || v === undefined ? t("none") : Number(v).toFixed(2) + "%"; }
  $("w-edit").addEventListener("change", function () {
    body.classList.toggle("wm-whatif-edit", $("w-edit").checked);
    if ($("w-edit").checked) { loadCounted(); } else { drawScenario(); }
  });
  map.on("click", function (e) {
    if (!$("w-edit").checked) { return; }
    var ll = basemaps.fromMap(e.latlng);
    scenario.add.push([Math.round(ll[0] * 1e6) / 1e6, Math.round(ll[1] * 1e6) / 1e6]);
    changed();
  });
  $("coverage-form").addEventListener("submit", function () {
    if ($("w-edit").checked) { loadCounted(); }
    if (app.whatif) { runWhatif(); }
  });

  // -- operations: usage against capacity, busiest hours, night use; recommendations with their reasons ------
  function loadUsage() {
    var q = new URLSearchParams();
    if ($("c-city")) { q.set("city", $("c-city").value); }
    if ($("c-district").value) { q.set("district", $("c-district").value); }
    var rq = params();
    var box = $("usage");
    busy(box, true);
    body.dataset.usage = "loading";
    $("usage-status").textContent = t("loading");
    return Promise.all([WM.getJSON(urls.usage + "?" + q.toString()), WM.getJSON(urls.recommendations + "?" + rq.toString())]).then(function (r) {
      busy(box, false);
      app.usage = r[0];
      app.recs = r[1];
      renderUsage();
      body.dataset.usage = "ready";
    }).catch(function (err) {
      busy(box, false);
      $("usage-status").textContent = t("error") + err.message;
      body.dataset.usage = "error";
    });
  }
  function share(v) { return v === null || v === undefined ? t("none") : (Number(v) * 100).toFixed(1) + "%"; }
  function renderUsage() {
    var u = app.usage;
    if (!u) { return; }
    $("usage-status").textContent = "";
    var synthetic = u.usage && u.usage.synthetic;
    $("usage-note").hidden = !synthetic;
    $("usage-note").textContent = synthetic ? t("u_synthetic") + (u.usage.first_day ? " · " + u.usage.first_day + " – " + u.usage.last_day : "") : "";
    $("usage-city").textContent = t("u_city", { u: share(u.city.utilisation), n: share(u.city.night_share), h: u.city.peak_hour || t("none") });
    var hb = $("usage-hours");
    hb.textContent = "";
    var hours = u.hours || [];
    if (hours.length) {
      var W = 360, H = 120, B = 18, max = Math.max.apply(null, hours.map(function (h) { return Number(h.visits_per_day) || 0; })) || 1;
      var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, class: "usage-bars", role: "img", "aria-label": t("u_hours") });
      hours.forEach(function (h, i) {
        var v = Number(h.visits_per_day) || 0, bw = W / 24, hh = v / max * (H - B - 14);
        var hr = parseInt(h.hour, 10);
        var r = svgEl("rect", { x: (i * bw + 1).toFixed(1), y: (H - B - hh).toFixed(1), width: (bw - 2).toFixed(1), height: hh.toFixed(1),
          class: hr >= 22 || hr < 6 ? "night" : "" });
        r.appendChild(svgEl("title", {}, h.hour + " · " + num(v)));
        svg.appendChild(r);
        if (i % 3 === 0) { svg.appendChild(svgEl("text", { x: (i * bw + bw / 2).toFixed(1), y: H - 4, "text-anchor": "middle" }, h.hour.slice(0, 2))); }
      });
      svg.appendChild(svgEl("text", { x: 2, y: 10 }, t("u_hours") + " (≤ " + num(max) + ")"));
      hb.appendChild(svg);
    }
    var tb = $("usage-table").tBodies[0];
    tb.textContent = "";
    (u.districts || []).forEach(function (d) {
      tb.appendChild(el("tr", {}, [el("th", { scope: "row", text: d.name }), el("td", { text: share(d.utilisation) }),
        el("td", { text: share(d.night_share) }), el("td", { text: d.peak_hour || t("none") }), el("td", { text: num(d.visits_per_day) })]));
    });
    $("usage-table").hidden = false;
    var ol = $("recs");
    ol.textContent = "";
    ((app.recs && app.recs.recommendations) || []).slice(0, 30).forEach(function (r) {
      var who = r.facility ? r.facility.name : (r.place || r.district || "");
      var li = el("li", { "data-action": r.action }, [el("b", { text: t("a_" + r.action) + (WM.i18n.lang === "en" ? ": " : "：") + who }),
        el("span", { class: "why", text: WM.i18n.lang === "en" ? r.reason : (r.reason_zh || r.reason) })]);
      clickable(li, function () { zoomTo(r.lon, r.lat, null); });
      ol.appendChild(li);
    });
  }
  $("u-load").addEventListener("click", loadUsage);

  // -- language ---------------------------------------------------------------------------------------
  $("lang").addEventListener("click", function () { WM.i18n.set(WM.i18n.lang === "zh" ? "en" : "zh"); });
  WM.i18n.onChange(function () {
    renderCoverage(); renderLegend(); renderPlan(); redraw(); renderPlanStatus(); renderHotspots(); renderWhatif(); renderUsage();
    renderChanges();
    if (app.hoursRows) { renderHours(app.hoursRows); }
  });
  WM.i18n.apply();

  // -- start ------------------------------------------------------------------------------------------
  setDownloads();
  WM.getJSON(cfg.urls.meta).then(function (m) { $("sample-notice").hidden = !m.sample; }).catch(function () { /* optional */ });
  // The district outlines and list: the region's units; in a province or the nation the chosen city's counties
  // (GET /planner/districts.geojson?city=…), the map fitted to them.
  function loadDistricts() {
    var city = $("c-city") ? $("c-city").value : null;
    var url = city ? urls.city_districts + "?city=" + encodeURIComponent(city) : cfg.urls.districts;
    body.dataset.districts = "loading";
    return WM.getJSON(url).then(function (fc) {  // the display outlines (exports keep the full ones)
      if (city && city !== $("c-city").value) { return; }  // another city was chosen meanwhile
      data.districts = fc;
      var sel = $("c-district");
      while (sel.options.length > 1) { sel.remove(1); }
      fc.features.forEach(function (f) {
        sel.appendChild(el("option", { value: f.properties.adcode, text: f.properties.name }));
      });
      redraw();
      if (city) {
        var b = geo(fc, {}).getBounds();
        if (b.isValid()) { map.fitBounds(b); }
      }
      body.dataset.districts = "ready";
    }).catch(function () { body.dataset.districts = "error"; /* decoration */ });
  }
  app.loadDistricts = loadDistricts;

  // -- the city (a province or the nation): kept in the URL (?city=); a new city clears the last one's results --
  if ($("c-city")) {
    var wanted = new URLSearchParams(window.location.search).get("city");
    if (wanted && Array.prototype.some.call($("c-city").options, function (o) { return o.value === wanted; })) {
      $("c-city").value = wanted;
    }
    $("c-city").addEventListener("change", function () {
      var u = new URLSearchParams(window.location.search);
      u.set("city", $("c-city").value);
      window.history.replaceState(null, "", window.location.pathname + "?" + u.toString());
      $("c-district").value = "";
      app.coverage = app.gaps = app.plan = app.whatif = app.access = app.hoursRows = app.usage = app.recs = null;
      scenario.close = []; scenario.made24 = []; scenario.add = [];
      counted.any = counted.now = null;
      ["grid", "gaps", "access", "lost"].forEach(function (n) { place(n, null); });
      $("access-legend").hidden = true;
      renderCoverage(); renderLegend(); renderHours([]); renderHotspots(); renderPlan(); renderWhatif(); renderChanges();
      $("plan-status").textContent = ""; $("assumptions").textContent = "";
      $("dl-sites").hidden = $("dl-sites-csv").hidden = true;
      $("usage-status").textContent = ""; $("usage-city").textContent = ""; $("usage-hours").textContent = "";
      $("usage-table").hidden = true; $("recs").textContent = ""; $("usage-note").hidden = true;
      data.facilities = null;
      place("facilities", null);
      redraw();
      loadDistricts();
      if ($("l-facilities").checked) { loadFacilities(); }
      runCoverage();
      if ($("w-edit").checked) { loadCounted(); }
    });
  }

  loadDistricts();
  loadReports();
  body.dataset.state = "ready";
  runCoverage();
})();
